// The case page: the diagram drawn by bpmn-js, each element marked done, in progress or cancelled.
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
  canvas.zoom("fit-viewport");
  const markers = JSON.parse(container.dataset.markers);
  for (const [element, kind] of Object.entries(markers)) {
    try { canvas.addMarker(element, kind); } catch (e) { /* not drawn: an engine-internal element */ }
  }
  container.dataset.ready = "true";
})();
