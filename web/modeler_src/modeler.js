// The modeler's editor page: bpmn-js Modeler, the properties panel with Tawasul's group, the problems
// panel (bpmnlint in the browser merged with the server's lint), save with a revision check, deploy.
// Everything it needs comes from data-* attributes of #modeler-app (the pages run no inline script).
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn.css";
import "@bpmn-io/properties-panel/dist/assets/properties-panel.css";

import Modeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";
import lintModule from "bpmn-js-bpmnlint";
import packedLint from "tawasul-bpmnlint";

import spiffDescriptor from "./descriptors/spiffworkflow.json";
import tawasulDescriptor from "./descriptors/tawasul.json";
import TawasulPropertiesProvider, { entryForProblem } from "./provider.js";
import { translator } from "./words.js";

const app = document.getElementById("modeler-app");
const data = app.dataset;
const words = JSON.parse(data.words || "{}");
const ruleWords = JSON.parse(data.rules || "{}");
const lists = JSON.parse(data.lists || "{}");
const t = (word) => (Object.hasOwn(words, word) ? words[word] : word);
const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

const state = {
  revision: Number(data.revision),
  dirty: false,
  lint: [],     // [{element_id, message, severity, source}]
  server: [],
  serverTurn: 0,
  marked: new Map(), // element id -> marker class
  byElement: new Map(),
  conflicted: false,
};

const modeler = new Modeler({
  container: document.getElementById("modeler-canvas"),
  propertiesPanel: { parent: "#modeler-properties", layout: { groups: { tawasul: { open: true }, general: { open: true } } } },
  linting: { bpmnlint: packedLint, active: false },
  tawasul: { ...lists, translate: t },
  additionalModules: [
    BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, lintModule,
    { __init__: ["tawasulPropertiesProvider"], tawasulPropertiesProvider: ["type", TawasulPropertiesProvider] },
    { translate: ["value", translator(words)] },
  ],
  moddleExtensions: { spiffworkflow: spiffDescriptor, tawasul: tawasulDescriptor },
});
window.tawasulModeler = modeler; // for the browser tests and the console

const $ = (id) => document.getElementById(id);
const statusLine = $("modeler-status");
const saveButton = $("modeler-save");
const deployButton = $("modeler-deploy");
const problemsList = $("problems-list");
const problemsCount = $("problems-count");

function say(text, tone = "secondary") {
  statusLine.textContent = text;
  statusLine.className = `small ${tone === "secondary" ? "text-body-emphasis" : `text-${tone}-emphasis`}`;
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
    body: JSON.stringify(body),
  });
  const isJson = (response.headers.get("Content-Type") || "").includes("application/json");
  let answer = {};
  if (isJson) {
    try { answer = await response.json(); } catch { answer = {}; }
  }
  // A redirect (the sign-in page) or a page instead of JSON is never a success, whatever its status.
  if (response.redirected || !isJson) {
    return { status: response.ok ? 0 : response.status,
             body: { message: answer.message || t("The server's answer could not be read, so the change may not be saved. Reload the draft in another tab to check.") } };
  }
  return { status: response.status, body: answer };
}

async function currentXml() {
  const { xml } = await modeler.saveXML({ format: true });
  return xml;
}

// ---------------------------------------------------------------- problems panel

function elementName(id) {
  const element = id && modeler.get("elementRegistry").get(id);
  if (!element) return id || t("The diagram");
  const bo = element.businessObject;
  const name = (bo.name || "").trim();
  return name || id;
}

function allProblems() {
  const rank = { error: 0, warning: 1, info: 2 };
  return [...state.server, ...state.lint].sort((a, b) => rank[a.severity] - rank[b.severity]);
}

function errorsRemain() {
  return allProblems().some((problem) => problem.severity === "error");
}

function renderProblems() {
  const problems = allProblems();
  const canvas = modeler.get("canvas");
  const registry = modeler.get("elementRegistry");
  for (const [id, marker] of state.marked) {
    if (registry.get(id)) canvas.removeMarker(id, marker);
  }
  state.marked.clear();
  state.byElement.clear();
  problemsList.replaceChildren();
  for (const problem of problems) {
    const item = document.createElement("li");
    item.className = `list-group-item problem problem-${problem.severity}`;
    item.dataset.element = problem.element_id || "";
    item.dataset.severity = problem.severity;
    item.dataset.source = problem.source;
    const badge = document.createElement("span");
    badge.className = `badge me-1 ${problem.severity === "error" ? "text-bg-danger" : "text-bg-warning"}`;
    badge.textContent = problem.severity === "error" ? t("Error") : t("Warning");
    const name = document.createElement("bdi");
    name.className = "fw-semibold";
    name.textContent = elementName(problem.element_id);
    const message = document.createElement("span");
    message.className = "problem-message";
    message.textContent = problem.message;
    let holder = item;
    if (problem.element_id && registry.get(problem.element_id)) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-link p-0 text-start text-decoration-none problem-link";
      button.addEventListener("click", () => showProblem(problem));
      item.append(button);
      holder = button;
      const marker = problem.severity === "error" ? "tw-problem-error" : "tw-problem-warning";
      if (state.marked.get(problem.element_id) !== "tw-problem-error") {
        if (state.marked.has(problem.element_id)) canvas.removeMarker(problem.element_id, state.marked.get(problem.element_id));
        canvas.addMarker(problem.element_id, marker);
        state.marked.set(problem.element_id, marker);
      }
      if (!state.byElement.has(problem.element_id)) state.byElement.set(problem.element_id, []);
      state.byElement.get(problem.element_id).push(problem);
    }
    holder.append(badge, name, document.createTextNode(t(": ")), message);
    problemsList.append(item);
  }
  const errors = problems.filter((p) => p.severity === "error").length;
  problemsCount.textContent = problems.length ? t("Errors: {errors} · warnings: {warnings}")
    .replace("{errors}", errors).replace("{warnings}", problems.length - errors) : t("No problems");
  $("problems-empty").hidden = problems.length > 0;
  deployButton.disabled = errors > 0 || state.conflicted;
  $("deploy-blocked").hidden = errors === 0;
  app.dataset.problems = String(problems.length);
  app.dataset.errors = String(errors);
  showEntryErrors();
}

function showEntryErrors() {
  const selected = modeler.get("selection").get()[0];
  const errors = {};
  if (selected) {
    for (const problem of state.byElement.get(selected.id) || []) {
      const entry = entryForProblem(selected, problem.message, problem.code, problem.params);
      if (entry && !errors[entry]) errors[entry] = problem.message;
    }
  }
  modeler.get("eventBus").fire("propertiesPanel.setErrors", { errors });
}

function showProblem(problem) {
  const element = modeler.get("elementRegistry").get(problem.element_id);
  if (!element) return;
  modeler.get("selection").select(element);
  modeler.get("canvas").scrollToElement(element, { top: 80, bottom: 80, left: 120, right: 120 });
  const entry = entryForProblem(element, problem.message, problem.code, problem.params);
  // The panel draws the newly selected element on the next frame; then its entry can be opened.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    showEntryErrors();
    const eventBus = modeler.get("eventBus");
    if (entry) {
      eventBus.fire("propertiesPanel.showEntry", { id: entry, focus: true });
    } else {
      $("modeler-properties").focus();
    }
  }));
}

modeler.on("linting.completed", ({ issues }) => {
  const found = [];
  for (const [id, reports] of Object.entries(issues)) {
    for (const report of reports) {
      if (report.category !== "error" && report.category !== "warn") continue;
      const rule = String(report.rule || "").replace(/^bpmnlint\//, "");
      found.push({
        element_id: report.actualElementId || id,
        message: ruleWords[rule] || report.message,
        severity: report.category === "error" ? "error" : "warning",
        source: `bpmnlint:${rule}`,
      });
    }
  }
  state.lint = found;
  renderProblems();
});

let serverTimer = null;
async function askServer() {
  const turn = ++state.serverTurn;
  let answer;
  try {
    answer = await post(data.problemsUrl, { xml: await currentXml() });
  } catch {
    return;
  }
  if (turn !== state.serverTurn || answer.status !== 200) return;
  state.server = (answer.body.problems || []).map((p) => ({
    element_id: p.element_id || null, message: p.message, severity: p.severity === "warning" ? "warning" : "error",
    source: "server", code: p.code || null, params: p.params || null,
  }));
  app.dataset.serverChecked = String(turn);
  renderProblems();
}
function askServerSoon() {
  clearTimeout(serverTimer);
  serverTimer = setTimeout(askServer, 800);
}

// (A listener that returns a value stops the event in diagram-js: this one returns nothing.)
modeler.on("selection.changed", () => { requestAnimationFrame(showEntryErrors); });

// ---------------------------------------------------------------- save, conflict, deploy

function showConflict(message) {
  state.conflicted = true;
  $("conflict-message").textContent = message || t("Someone else saved this draft.");
  $("conflict").hidden = false;
  saveButton.disabled = true;
  deployButton.disabled = true;
  $("conflict-reload").focus();
}

async function save() {
  saveButton.disabled = true;
  say(t("Saving…"));
  let answer;
  try {
    answer = await post(data.saveUrl, { xml: await currentXml(), revision: state.revision });
  } catch {
    saveButton.disabled = false;
    say(t("The draft could not be saved: the server did not answer."), "danger");
    return false;
  }
  if (answer.status === 200 && Number.isInteger(answer.body.revision)) {
    state.revision = answer.body.revision;
    app.dataset.revision = String(state.revision);
    state.dirty = false;
    saveButton.disabled = false;
    say(t("Draft saved."), "success");
    askServer();
    return true;
  }
  if (answer.status === 409 && answer.body.reload !== false) {
    showConflict(answer.body.message);
    say(t("Not saved."), "danger");
    return false;
  }
  saveButton.disabled = false;
  say(answer.body.message || t("The draft could not be saved."), "danger");
  return false;
}

saveButton.addEventListener("click", save);
$("conflict-reload").addEventListener("click", () => window.location.reload());

const dialog = $("deploy-dialog");
const note = $("deploy-note");
const dialogError = $("deploy-error");
deployButton.addEventListener("click", () => {
  dialogError.hidden = true;
  dialog.showModal();
  note.focus();
});
$("deploy-cancel").addEventListener("click", () => dialog.close());
$("deploy-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!note.value.trim()) {
    dialogError.textContent = t("Say what this version changes: the note is required.");
    dialogError.hidden = false;
    note.focus();
    return;
  }
  const confirm = $("deploy-confirm");
  confirm.disabled = true;
  let answer;
  try {
    answer = await post(data.deployUrl, { xml: await currentXml(), revision: state.revision, note: note.value.trim() });
  } catch {
    answer = { status: 0, body: { message: t("The server did not answer.") } };
  }
  confirm.disabled = false;
  if (answer.status === 200 && Array.isArray(answer.body.deployed)) {
    state.dirty = false;
    const done = (answer.body.deployed || [])[0];
    say(done ? t("Deployed as version {version}.").replace("{version}", done.version) : t("Deployed."), "success");
    dialog.close();
    if (answer.body.redirect) window.location.assign(answer.body.redirect);
    return;
  }
  if (answer.status === 409 && answer.body.reload !== false) {
    dialog.close();
    showConflict(answer.body.message);
    return;
  }
  if (answer.status === 422 && Array.isArray(answer.body.problems)) {
    state.server = answer.body.problems.map((p) => ({
      element_id: p.element_id || null, message: p.message, severity: p.severity === "warning" ? "warning" : "error",
      source: "server", code: p.code || null, params: p.params || null,
    }));
    renderProblems();
  }
  dialogError.textContent = answer.body.message || t("The diagram was not deployed.");
  dialogError.hidden = false;
});

modeler.on("commandStack.changed", () => {
  state.dirty = true;
  app.dataset.dirty = "true";
  say(t("Unsaved changes."), "warning");
  askServerSoon();
});

// ---------------------------------------------------------------- open the draft

/** The whole diagram in view, unless its labels would be too small to read: then its start, readable. */
function fit() {
  const canvas = modeler.get("canvas");
  canvas.zoom("fit-viewport");
  if (canvas.zoom() < 0.7) {
    canvas.zoom(0.7);
    const box = canvas.viewbox();
    // The palette covers the canvas's first 120 pixels: the diagram starts to its right.
    canvas.viewbox({ x: box.inner.x - 130 / 0.7, y: box.inner.y - 20, width: box.width, height: box.height });
  }
}

async function open() {
  say(t("Opening the diagram…"));
  let xml;
  try {
    const response = await fetch(data.xmlUrl, { credentials: "same-origin" });
    xml = await response.text();
    if (!response.ok) throw new Error(String(response.status));
  } catch {
    say(t("The diagram could not be opened."), "danger");
    return;
  }
  try {
    const { warnings } = await modeler.importXML(xml);
    if (warnings && warnings.length) console.warn("import warnings", warnings);
  } catch (error) {
    say(t("The diagram could not be drawn: {reason}").replace("{reason}", error.message), "danger");
    return;
  }
  fit();
  state.dirty = false;
  app.dataset.dirty = "false";
  say(t("Draft opened."));
  saveButton.disabled = false;
  await askServer();
  app.dataset.ready = "true";
}

open();
