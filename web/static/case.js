// The case page: the diagram drawn by bpmn-js, each element marked done, in progress or cancelled.
// It opens fitted to its width, never smaller than MIN_ZOOM (labels stay readable: a wider diagram
// scrolls instead), with the current task in view; zoom buttons and a reset below it.
const MIN_ZOOM = 0.75;
const MAX_ZOOM = 3;
const STEP = 1.25;

(async () => {
  const container = document.getElementById("diagram");
  if (!container) return;
  const viewer = await tawasulDiagram.open(container);
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  const markers = JSON.parse(container.dataset.markers);
  for (const [element, kind] of Object.entries(markers)) {
    try { canvas.addMarker(element, kind); } catch (e) { /* not drawn: an engine-internal element */ }
  }
  const current = Object.entries(markers).filter(([, kind]) => kind === "active")
    .map(([id]) => registry.get(id)).find(Boolean);
  tawasulDiagram.zoom(viewer, container, () => current, { minZoom: MIN_ZOOM, maxZoom: MAX_ZOOM, step: STEP });
})();
