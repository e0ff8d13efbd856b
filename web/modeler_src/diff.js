// The visual diff of two versions of a process: both drawn side by side, bpmn-js-differ's added,
// removed, changed and moved elements marked on them, and the list of changes with the running
// cases waiting at each changed element. Data from #diff-app's data-* attributes.
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";

import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import { diff } from "bpmn-js-differ";

import spiffDescriptor from "./descriptors/spiffworkflow.json";
import tawasulDescriptor from "./descriptors/tawasul.json";

const app = document.getElementById("diff-app");
const data = app.dataset;
const words = JSON.parse(data.words || "{}");
const counts = JSON.parse(data.counts || "{}");
const english = document.documentElement.lang === "en";
const t = (word) => (Object.hasOwn(words, word) ? words[word] : word);
const moddleExtensions = { spiffworkflow: spiffDescriptor, tawasul: tawasulDescriptor };

const KINDS = {
  added: { marker: "diff-added", on: ["to"] },
  removed: { marker: "diff-removed", on: ["from"] },
  changed: { marker: "diff-changed", on: ["from", "to"] },
  moved: { marker: "diff-moved", on: ["from", "to"] },
};

function nameOf(bo) {
  if (!bo) return "";
  const en = english && bo.get && bo.get("tawasul:nameEn");
  return (en || bo.name || "").trim() || bo.id;
}

function typeOf(bo) {
  const type = String((bo && bo.$type) || "").replace(/^bpmn:/, "");
  return t(type);
}

async function draw(container, xml) {
  const viewer = new NavigatedViewer({ container, moddleExtensions });
  await viewer.importXML(xml);
  viewer.get("canvas").zoom("fit-viewport");
  return viewer;
}

function cell(row, text, header = false) {
  const node = document.createElement(header ? "th" : "td");
  if (header) node.scope = "row";
  node.textContent = text;
  row.append(node);
  return node;
}

function describe(kind, entry) {
  if (kind !== "changed") return "";
  const attrs = entry.attrs || {};
  return Object.entries(attrs).map(([attr, change]) => {
    const label = t(`attr:${attr}`) === `attr:${attr}` ? attr : t(`attr:${attr}`);
    const before = typeof change.oldValue === "object" ? "…" : String(change.oldValue ?? "");
    const after = typeof change.newValue === "object" ? "…" : String(change.newValue ?? "");
    return before || after ? `${label}: «${before}» → «${after}»` : label;
  }).join("; ");
}

function running(id) {
  const found = counts[id] || {};
  return [found.from || 0, found.to || 0];
}

async function main() {
  const viewers = {
    from: await draw(document.getElementById("diff-from"), data.fromXml),
    to: await draw(document.getElementById("diff-to"), data.toXml),
  };
  const changes = diff(viewers.from.getDefinitions(), viewers.to.getDefinitions());
  const groups = {
    added: changes._added, removed: changes._removed, changed: changes._changed, moved: changes._layoutChanged,
  };
  const body = document.getElementById("diff-changes");
  const rows = [];
  // An element changed and moved is listed (and marked) once, as changed, "moved too" said in its row.
  const movedToo = new Set(Object.keys(groups.moved || {}).filter((id) => (groups.changed || {})[id]));
  for (const [kind, entries] of Object.entries(groups)) {
    for (const [id, entry] of Object.entries(entries || {})) {
      if (kind === "moved" && movedToo.has(id)) continue;
      const bo = kind === "changed" ? entry.model : entry;
      if (!bo || /^bpmn(di)?:(Definitions|BPMNDiagram|BPMNPlane|Collaboration|LaneSet|ExtensionElements|FormalExpression)$/.test(bo.$type || "")) continue;
      for (const side of KINDS[kind].on) {
        const registry = viewers[side].get("elementRegistry");
        if (registry.get(id)) viewers[side].get("canvas").addMarker(id, KINDS[kind].marker);
      }
      const shown = kind === "removed" ? bo : (viewers.to.get("elementRegistry").get(id)?.businessObject || bo);
      const detail = [describe(kind, entry), movedToo.has(id) ? t("moved on the drawing too") : ""].filter(Boolean);
      rows.push({ kind, id, name: nameOf(shown), type: typeOf(bo), detail: detail.join("; ") });
    }
  }
  const order = { removed: 0, changed: 1, added: 2, moved: 3 };
  rows.sort((a, b) => order[a.kind] - order[b.kind] || a.name.localeCompare(b.name));
  for (const change of rows) {
    const row = document.createElement("tr");
    row.dataset.element = change.id;
    row.dataset.kind = change.kind;
    const name = cell(row, "", true);
    const bdi = document.createElement("bdi");
    bdi.textContent = change.name;
    name.append(bdi);
    const kind = cell(row, "");
    const swatch = document.createElement("span");
    swatch.className = `diff-swatch diff-swatch-${change.kind}`;
    swatch.setAttribute("aria-hidden", "true");
    kind.append(swatch, document.createTextNode(` ${t(change.kind)}`));
    cell(row, change.type);
    cell(row, change.detail);
    const [before, after] = running(change.id);
    const cases = cell(row, "");
    cases.className = "diff-running";
    cases.textContent = t("{from} on version {v}, {to} on version {w}")
      .replace("{from}", before).replace("{v}", data.fromVersion)
      .replace("{to}", after).replace("{w}", data.toVersion);
    if (before + after > 0) cases.classList.add("fw-bold");
    body.append(row);
  }
  document.getElementById("diff-empty").hidden = rows.length > 0;
  document.getElementById("diff-count").textContent = t("Changes: {num}").replace("{num}", rows.length);
  // Moving or zooming one diagram moves the other the same way.
  let syncing = false;
  for (const [side, other] of [["from", "to"], ["to", "from"]]) {
    viewers[side].on("canvas.viewbox.changed", ({ viewbox }) => {
      if (syncing) return;
      syncing = true;
      viewers[other].get("canvas").viewbox({ x: viewbox.x, y: viewbox.y, width: viewbox.width, height: viewbox.height });
      syncing = false;
    });
  }
  window.tawasulDiff = { viewers, changes };
  app.dataset.ready = "true";
}

main().catch((error) => {
  const failed = document.getElementById("diff-failed");
  failed.hidden = false;
  failed.textContent = `${failed.textContent} ${error.message}`;
});
