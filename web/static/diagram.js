// What the case page and the heat map share: a bpmn-js viewer of a diagram fetched from
// container.dataset.xml, its lanes (and, given, its elements) named in the page's language, and
// zoom buttons ([data-diagram-zoom]) around a view fitted to the width, never smaller than
// minZoom (labels stay readable: a wider diagram scrolls instead, to the element `focus` gives).
window.tawasulDiagram = {
  async open(container, names = {}) {
    const viewer = new BpmnJS({ container });
    const source = await (await fetch(container.dataset.xml)).text();
    const doc = new DOMParser().parseFromString(source, "application/xml");
    // Lanes carry role ids (what the engine matches on); show them in the page's language.
    const labels = JSON.parse(container.dataset.lanes);
    for (const lane of doc.getElementsByTagNameNS("http://www.omg.org/spec/BPMN/20100524/MODEL", "lane")) {
      const name = lane.getAttribute("name");
      if (Object.hasOwn(labels, name)) lane.setAttribute("name", labels[name]);
    }
    for (const node of doc.querySelectorAll("[id]")) {
      if (Object.hasOwn(names, node.getAttribute("id")) && node.hasAttribute("name")) {
        node.setAttribute("name", names[node.getAttribute("id")]);
      }
    }
    await viewer.importXML(new XMLSerializer().serializeToString(doc));
    return viewer;
  },

  zoom(viewer, container, focus, { minZoom = 0.75, maxZoom = 3, step = 1.25 } = {}) {
    const canvas = viewer.get("canvas");
    const show = (zoom) => { container.dataset.zoom = zoom.toFixed(3); };
    const reset = () => {
      canvas.zoom("fit-viewport");
      if (canvas.zoom() < minZoom) {
        canvas.zoom(minZoom);
        const element = focus();
        if (element) canvas.scrollToElement(element, { top: 60, bottom: 60, left: 120, right: 120 });
      }
      show(canvas.zoom());
    };
    const zoomBy = (factor) => {
      const box = canvas.viewbox();
      const middle = { x: box.outer.width / 2, y: box.outer.height / 2 };
      show(canvas.zoom(Math.min(maxZoom, Math.max(minZoom / 2, canvas.zoom() * factor)), middle));
    };
    reset();
    for (const button of document.querySelectorAll("[data-diagram-zoom]")) {
      const action = button.dataset.diagramZoom;
      button.addEventListener("click", () => (action === "reset" ? reset() : zoomBy(action === "in" ? step : 1 / step)));
      button.disabled = false;
    }
    container.dataset.ready = "true";
  },
};
