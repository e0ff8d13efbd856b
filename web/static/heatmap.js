// The heat map: the process diagram drawn by bpmn-js, each user task coloured by its breach band
// (a marker class), a badge above it counting its open tasks and its breach rate below it
// (overlays); clicking a task, or its name in the table, shows its open cases below the diagram.
const MIN_ZOOM = 0.6;
const MAX_ZOOM = 3;
const STEP = 1.25;

(async () => {
  const container = document.getElementById("heatmap");
  if (!container) return;
  const figures = JSON.parse(container.dataset.figures);
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

  const viewer = await tawasulDiagram.open(container, JSON.parse(container.dataset.names || "{}"));
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

  // Too wide to fit: start at the chosen task, else the one with the most open tasks.
  const focus = () => {
    const busiest = Object.entries(figures).filter(([id]) => registry.get(id))
      .sort(([, a], [, b]) => b.live - a.live)[0];
    return registry.get(container.dataset.selected || "") || (busiest && registry.get(busiest[0]));
  };
  tawasulDiagram.zoom(viewer, container, focus, { minZoom: MIN_ZOOM, maxZoom: MAX_ZOOM, step: STEP });
})();
