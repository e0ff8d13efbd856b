// The heat map: the process diagram drawn by bpmn-js, each user task coloured by its breach band
// (a marker class), a badge above it counting its open tasks and its breach rate below it
// (overlays); clicking a task, or its name in the table, shows its open cases below the diagram.
const MIN_ZOOM = 0.6;
const MAX_ZOOM = 3;
const STEP = 1.25;

(async () => {
  const container = document.getElementById("heatmap");
  if (!container) return;
  const figures = JSON.parse(document.getElementById("heatmap-data").textContent);
  const hint = document.getElementById("open-cases-hint");
  const section = document.getElementById("open-cases");

  const showCases = (element, focus) => {
    let found = false;
    for (const block of document.querySelectorAll("[data-open-cases]")) {
      const match = block.dataset.openCases === element;
      block.hidden = !match;
      found = found || match;
    }
    hint.hidden = found;
    container.dataset.selected = found ? element : "";
    if (found && focus) section.focus();
    return found;
  };
  for (const link of document.querySelectorAll("[data-show-element]")) {
    link.addEventListener("click", (event) => {
      if (showCases(link.dataset.showElement, true)) event.preventDefault();
    });
  }

  const viewer = new BpmnJS({ container });
  const source = await (await fetch(container.dataset.xml)).text();
  const doc = new DOMParser().parseFromString(source, "application/xml");
  const labels = JSON.parse(container.dataset.lanes);
  for (const lane of doc.getElementsByTagNameNS("http://www.omg.org/spec/BPMN/20100524/MODEL", "lane")) {
    const name = lane.getAttribute("name");
    if (Object.hasOwn(labels, name)) lane.setAttribute("name", labels[name]);
  }
  const names = JSON.parse(container.dataset.names || "{}");
  for (const node of doc.querySelectorAll("[id]")) {
    if (Object.hasOwn(names, node.getAttribute("id")) && node.hasAttribute("name")) {
      node.setAttribute("name", names[node.getAttribute("id")]);
    }
  }
  await viewer.importXML(new XMLSerializer().serializeToString(doc));
  const canvas = viewer.get("canvas");
  const overlays = viewer.get("overlays");
  const registry = viewer.get("elementRegistry");

  for (const [element, info] of Object.entries(figures)) {
    const shape = registry.get(element);
    if (!shape) continue; // not drawn in this version
    canvas.addMarker(element, "heat-" + info.band);
    canvas.addMarker(element, "heat-task");
    const gfx = canvas.getGraphics(shape);
    gfx.setAttribute("aria-label", info.title);
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = info.title;
    gfx.prepend(title);
    if (info.live > 0) {
      const badge = document.createElement("span");
      badge.className = "heat-badge";
      badge.textContent = String(info.live);
      badge.title = info.badge;
      badge.dataset.element = element;
      overlays.add(element, "heat-live", { position: { top: -12, right: 12 }, html: badge });
    }
    const rate = document.createElement("span");
    rate.className = "heat-rate";
    rate.textContent = info.rate;
    rate.dataset.element = element;
    overlays.add(element, "heat-rate", { position: { bottom: 10, left: 4 }, html: rate });
  }
  viewer.get("eventBus").on("element.click", (event) => {
    if (Object.hasOwn(figures, event.element.id)) showCases(event.element.id, false);
  });

  const show = (zoom) => { container.dataset.zoom = zoom.toFixed(3); };
  const reset = () => {
    canvas.zoom("fit-viewport");
    if (canvas.zoom() < MIN_ZOOM) {
      canvas.zoom(MIN_ZOOM);
      // Too wide to fit: start at the chosen task, else the one with the most open tasks.
      const busiest = Object.entries(figures).filter(([id]) => registry.get(id))
        .sort(([, a], [, b]) => b.live - a.live)[0];
      const focus = registry.get(container.dataset.selected || "") || (busiest && registry.get(busiest[0]));
      if (focus) canvas.scrollToElement(focus, { top: 60, bottom: 60, left: 120, right: 120 });
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
