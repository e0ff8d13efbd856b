// The case page: the diagram drawn by bpmn-js, each element marked done, in progress or cancelled.
// It opens fitted to its width, never smaller than MIN_ZOOM (labels stay readable: a wider diagram
// scrolls instead), with the current task in view; zoom buttons and a reset below it.
const MIN_ZOOM = 0.75;
const MAX_ZOOM = 3;
const STEP = 1.25;

(async () => {
  const container = document.getElementById("diagram");
  if (!container) return;
  const viewer = new BpmnJS({ container });
  const source = await (await fetch(container.dataset.xml)).text();
  // Lanes carry role ids (what the engine matches on); show them in the page's language.
  const doc = new DOMParser().parseFromString(source, "application/xml");
  const labels = JSON.parse(container.dataset.lanes);
  for (const lane of doc.getElementsByTagNameNS("http://www.omg.org/spec/BPMN/20100524/MODEL", "lane")) {
    const name = lane.getAttribute("name");
    if (Object.hasOwn(labels, name)) lane.setAttribute("name", labels[name]);
  }
  await viewer.importXML(new XMLSerializer().serializeToString(doc));
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  const markers = JSON.parse(container.dataset.markers);
  for (const [element, kind] of Object.entries(markers)) {
    try { canvas.addMarker(element, kind); } catch (e) { /* not drawn: an engine-internal element */ }
  }
  const current = Object.entries(markers).filter(([, kind]) => kind === "active")
    .map(([id]) => registry.get(id)).find(Boolean);
  const show = (zoom) => { container.dataset.zoom = zoom.toFixed(3); };
  const reset = () => {
    canvas.zoom("fit-viewport");
    if (canvas.zoom() < MIN_ZOOM) {
      canvas.zoom(MIN_ZOOM);
      if (current) canvas.scrollToElement(current, { top: 40, bottom: 40, left: 80, right: 80 });
    }
    show(canvas.zoom());
  };
  const zoomBy = (factor) => {
    const box = canvas.viewbox();
    const middle = { x: box.outer.width / 2, y: box.outer.height / 2 };
    show(canvas.zoom(Math.min(MAX_ZOOM, Math.max(MIN_ZOOM / 2, canvas.zoom() * factor)), middle));
  };
  reset();
  for (const button of document.querySelectorAll("[data-diagram-zoom]")) {
    const action = button.dataset.diagramZoom;
    button.addEventListener("click", () => (action === "reset" ? reset() : zoomBy(action === "in" ? STEP : 1 / STEP)));
    button.disabled = false;
  }
  container.dataset.ready = "true";
})();
