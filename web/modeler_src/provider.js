// The Tawasul group of the properties panel: what the engine reads from a diagram, edited in place.
// Every value is kept where today's diagrams keep it (so diagrams deployed before the modeler load
// and round-trip unchanged):
//   English name            tawasul:nameEn on the element (on the process for a pool)
//   lane's role             the lane's name (a role id)
//   form, priority, SLA     spiffworkflow:properties/property formKey, priority, slaDue, slaWarn, slaEscalation
//   handler                 spiffworkflow:serviceTaskOperator id (resultVariable ID_result)
//   script                  bpmn:script of a script task; spiffworkflow:preScript / postScript of a task
//   timer                   bpmn:timerEventDefinition timeDuration / timeDate / timeCycle
//   condition               bpmn:conditionExpression of a flow leaving a gateway
import { createElement as h } from "@bpmn-io/properties-panel/preact";
import {
  SelectEntry, TextAreaEntry, TextFieldEntry,
  isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited,
} from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is, isAny } from "bpmn-js/lib/util/ModelUtil";

export const SPIFF = "spiffworkflow";
const HUMAN = ["bpmn:UserTask", "bpmn:ManualTask"];
const TIMER_KINDS = ["timeDuration", "timeDate", "timeCycle"];

// ---------------------------------------------------------------- reading

export function extensions(bo, type) {
  const values = (bo && bo.extensionElements && bo.extensionElements.get("values")) || [];
  return values.filter((value) => is(value, type));
}

export function propertyOf(bo, name) {
  for (const list of extensions(bo, "spiffworkflow:Properties")) {
    const found = list.get("properties").find((property) => property.name === name);
    if (found) return found.value || "";
  }
  return "";
}

export function handlerOf(bo) {
  const operator = extensions(bo, "spiffworkflow:ServiceTaskOperator")[0];
  return (operator && operator.id) || "";
}

export function timerOf(bo) {
  const definition = (bo.eventDefinitions || []).find((d) => is(d, "bpmn:TimerEventDefinition"));
  if (!definition) return null;
  const kind = TIMER_KINDS.find((k) => definition.get(k)) || "timeDuration";
  const expression = definition.get(kind);
  return { definition, kind, value: (expression && expression.body) || "" };
}

function englishTarget(bo) {
  return is(bo, "bpmn:Participant") && bo.processRef ? bo.processRef : bo;
}

// ---------------------------------------------------------------- writing (one undo step each)

function update(element, moddleElement, properties) {
  return { cmd: "element.updateModdleProperties", context: { element, moddleElement, properties } };
}

function run(commandStack, commands) {
  if (commands.length) commandStack.execute("properties-panel.multi-command-executor", commands);
}

/** The element's extensionElements, created (commands pushed) if it has none. */
function ensureExtensions(element, bo, bpmnFactory, commands) {
  let container = bo.extensionElements;
  if (!container) {
    container = bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
    container.$parent = bo;
    commands.push(update(element, bo, { extensionElements: container }));
  }
  return container;
}

function ensureChild(element, container, type, bpmnFactory, commands) {
  let found = container.get("values").find((value) => is(value, type));
  if (!found) {
    found = bpmnFactory.create(type, {});
    found.$parent = container;
    commands.push(update(element, container, { values: [...container.get("values"), found] }));
  }
  return found;
}

export function setProperty(element, name, value, { bpmnFactory, commandStack }) {
  const bo = getBusinessObject(element);
  const commands = [];
  value = (value || "").trim();
  const existing = extensions(bo, "spiffworkflow:Properties")
    .map((list) => [list, list.get("properties").find((p) => p.name === name)]).find(([, p]) => p);
  if (existing) {
    const [list, property] = existing;
    if (value) commands.push(update(element, property, { value }));
    else commands.push(update(element, list, { properties: list.get("properties").filter((p) => p !== property) }));
  } else if (value) {
    const container = ensureExtensions(element, bo, bpmnFactory, commands);
    const list = ensureChild(element, container, "spiffworkflow:Properties", bpmnFactory, commands);
    const property = bpmnFactory.create("spiffworkflow:Property", { name, value });
    property.$parent = list;
    commands.push(update(element, list, { properties: [...(list.get("properties") || []), property] }));
  }
  run(commandStack, commands);
}

function setHandler(element, name, { bpmnFactory, commandStack }) {
  const bo = getBusinessObject(element);
  const commands = [];
  const operator = extensions(bo, "spiffworkflow:ServiceTaskOperator")[0];
  if (!name) {
    if (operator) {
      commands.push(update(element, bo.extensionElements,
        { values: bo.extensionElements.get("values").filter((v) => v !== operator) }));
    }
  } else if (operator) {
    commands.push(update(element, operator, { id: name, resultVariable: `${name}_result` }));
  } else {
    const container = ensureExtensions(element, bo, bpmnFactory, commands);
    const created = bpmnFactory.create("spiffworkflow:ServiceTaskOperator", { id: name, resultVariable: `${name}_result` });
    created.$parent = container;
    commands.push(update(element, container, { values: [...container.get("values"), created] }));
  }
  run(commandStack, commands);
}

function setScriptExtension(element, type, text, { bpmnFactory, commandStack }) {
  const bo = getBusinessObject(element);
  const commands = [];
  const found = extensions(bo, type)[0];
  if (!text.trim()) {
    if (found) {
      commands.push(update(element, bo.extensionElements,
        { values: bo.extensionElements.get("values").filter((v) => v !== found) }));
    }
  } else if (found) {
    commands.push(update(element, found, { value: text }));
  } else {
    const container = ensureExtensions(element, bo, bpmnFactory, commands);
    const created = bpmnFactory.create(type, { value: text });
    created.$parent = container;
    commands.push(update(element, container, { values: [...container.get("values"), created] }));
  }
  run(commandStack, commands);
}

function setExpression(element, owner, property, text, { bpmnFactory, commandStack }, clear = []) {
  const properties = {};
  for (const other of clear) properties[other] = undefined;
  if (text.trim()) {
    const expression = bpmnFactory.create("bpmn:FormalExpression", { body: text });
    expression.$parent = owner;
    properties[property] = expression;
  } else {
    properties[property] = undefined;
  }
  run(commandStack, [update(element, owner, properties)]);
}

// ---------------------------------------------------------------- entry components (module level:
// the panel re-renders on every change, and a component made anew each time would lose the focus)

function services() {
  return {
    bpmnFactory: useService("bpmnFactory"),
    commandStack: useService("commandStack"),
    modeling: useService("modeling"),
    debounce: useService("debounceInput"),
  };
}

function TextField(props) {
  const { element, id, field } = props;
  const tools = services();
  return h(field.area ? TextAreaEntry : TextFieldEntry, {
    element, id, label: field.label, description: field.description,
    getValue: () => field.get(getBusinessObject(element)),
    setValue: (value) => field.set(element, value || "", tools),
    validate: field.validate, debounce: tools.debounce,
    rows: field.area ? 6 : undefined, monospace: field.monospace,
  });
}

function Select(props) {
  const { element, id, field } = props;
  const tools = services();
  return h(SelectEntry, {
    element, id, label: field.label, description: field.description,
    getValue: () => field.get(getBusinessObject(element)),
    setValue: (value) => field.set(element, value || "", tools),
    getOptions: () => field.options(getBusinessObject(element)),
  });
}

function text(id, field) {
  return { id, component: TextField, field, isEdited: field.area ? isTextAreaEntryEdited : isTextFieldEntryEdited };
}

function select(id, field) {
  return { id, component: Select, field, isEdited: isSelectEntryEdited };
}

/** Options for a select: an empty choice, the known ones, and the current value if it is unknown. */
function choices(known, current, empty) {
  const options = [{ value: "", label: empty }, ...known.map((k) => ({ value: k.value, label: k.label }))];
  if (current && !known.some((k) => k.value === current)) options.push({ value: current, label: current });
  return options;
}

// ---------------------------------------------------------------- the provider

/** Entry ids of the group, by what a problem is about (the problems panel opens the first that applies). */
export const ENTRY = {
  english: "tawasul-name-en", role: "tawasul-role", form: "tawasul-form", priority: "tawasul-priority",
  due: "tawasul-sla-due", warn: "tawasul-sla-warn", escalation: "tawasul-sla-escalation",
  handler: "tawasul-handler", script: "tawasul-script", preScript: "tawasul-pre-script",
  postScript: "tawasul-post-script", timerKind: "tawasul-timer-kind", timer: "tawasul-timer",
  condition: "tawasul-condition",
};

export function entriesFor(element, lists, t) {
  const bo = getBusinessObject(element);
  const entries = [];
  const property = (name, id, label, description, validate) => text(id, {
    label, description, validate,
    get: (b) => propertyOf(b, name),
    set: (el, value, tools) => setProperty(el, name, value, tools),
  });
  if (isAny(bo, ["bpmn:FlowNode", "bpmn:Participant", "bpmn:Process", "bpmn:SequenceFlow"])) {
    entries.push(text(ENTRY.english, {
      label: t("English name"), description: t("Shown on the English pages; the name above is the Arabic one."),
      get: (b) => englishTarget(b).get("tawasul:nameEn") || "",
      set: (el, value, { modeling }) => modeling.updateModdleProperties(el, englishTarget(getBusinessObject(el)),
        { "tawasul:nameEn": value.trim() || undefined }),
    }));
  }
  if (is(bo, "bpmn:Lane")) {
    const known = lists.lanes.map((lane) => ({ value: lane.key, label: lane.label }));
    entries.push(select(ENTRY.role, {
      label: t("Role of the lane"), description: t("The tasks of this lane are offered to this role."),
      get: (b) => b.name || "", options: (b) => choices(known, b.name, t("(choose a role)")),
      set: (el, value, { modeling }) => modeling.updateProperties(el, { name: value || undefined }),
    }));
  }
  if (isAny(bo, HUMAN)) {
    const forms = lists.forms.map((key) => ({ value: key, label: key }));
    entries.push(select(ENTRY.form, {
      label: t("Form"), description: t("The form the task's holder fills in."),
      get: (b) => propertyOf(b, "formKey"), options: (b) => choices(forms, propertyOf(b, "formKey"), t("(no form)")),
      set: (el, value, tools) => setProperty(el, "formKey", value, tools),
    }));
    entries.push(property("priority", ENTRY.priority, t("Priority"), t("0 to 100; the inbox lists higher first (50 if empty)."),
      (value) => (value && !/^\s*\d{1,3}\s*$/.test(value)) || Number(value) > 100 ? t("A whole number from 0 to 100.") : null));
    entries.push(property("slaDue", ENTRY.due, t("Deadline"), t("When the task is due, e.g. business_days(10) or PT4H.")));
    entries.push(property("slaWarn", ENTRY.warn, t("Warning"), t("When the task is at risk, e.g. business_days(8).")));
    entries.push(property("slaEscalation", ENTRY.escalation, t("Escalation chain"),
      t("EXPRESSION => role, separated by semicolons, e.g. business_days(10) => supervisor.")));
  }
  if (is(bo, "bpmn:ServiceTask")) {
    const handlers = lists.handlers.map((handler) => ({ value: handler.name, label: handler.label }));
    entries.push(select(ENTRY.handler, {
      label: t("Handler"), description: t("What the service task does."),
      get: handlerOf, options: (b) => choices(handlers, handlerOf(b), t("(choose a handler)")),
      set: setHandler,
    }));
  }
  if (is(bo, "bpmn:ScriptTask")) {
    entries.push(text(ENTRY.script, {
      label: t("Script"), description: t("Python, run in the sandbox with the case's data."), area: true, monospace: true,
      get: (b) => b.script || "",
      set: (el, value, { modeling }) => modeling.updateProperties(el, {
        script: value || undefined, scriptFormat: getBusinessObject(el).scriptFormat || "python" }),
    }));
  }
  if (is(bo, "bpmn:Task")) {
    for (const [type, id, label] of [["spiffworkflow:PreScript", ENTRY.preScript, t("Script before the task")],
      ["spiffworkflow:PostScript", ENTRY.postScript, t("Script after the task")]]) {
      entries.push(text(id, {
        label, area: true, monospace: true,
        get: (b) => { const found = extensions(b, type)[0]; return (found && found.value) || ""; },
        set: (el, value, tools) => setScriptExtension(el, type, value, tools),
      }));
    }
  }
  const timer = timerOf(bo);
  if (timer) {
    const kinds = [{ value: "timeDuration", label: t("After a duration") }, { value: "timeDate", label: t("At a date") },
      { value: "timeCycle", label: t("Repeating") }];
    entries.push(select(ENTRY.timerKind, {
      label: t("Timer type"), get: (b) => timerOf(b).kind, options: () => kinds,
      set: (el, value, tools) => {
        const now = timerOf(getBusinessObject(el));
        setExpression(el, now.definition, value || "timeDuration", now.value, tools,
          TIMER_KINDS.filter((k) => k !== (value || "timeDuration")));
      },
    }));
    entries.push(text(ENTRY.timer, {
      label: t("Timer expression"), description: t("e.g. P7D, R6/P1D, 2027-01-01T09:00 or business_days(3)."),
      get: (b) => timerOf(b).value,
      set: (el, value, tools) => { const now = timerOf(getBusinessObject(el)); setExpression(el, now.definition, now.kind, value, tools); },
    }));
  }
  if (is(bo, "bpmn:SequenceFlow") && bo.sourceRef && is(bo.sourceRef, "bpmn:Gateway")) {
    entries.push(text(ENTRY.condition, {
      label: t("Condition"), description: t("Python; the flow is taken when it is true."), monospace: true,
      get: (b) => (b.conditionExpression && b.conditionExpression.body) || "",
      set: (el, value, tools) => setExpression(el, getBusinessObject(el), "conditionExpression", value, tools),
    }));
  }
  return entries;
}

/** The entry a problem of ``element`` most likely concerns (the first of the group that applies). */
//: The server's problem codes (engine/bpmn_problems.py) that name their field; "which" tells the SLA and script ones.
const BY_CODE = {
  bpmn_form_missing: ENTRY.form, bpmn_service_no_handler: ENTRY.handler, bpmn_unknown_handler: ENTRY.handler,
  bpmn_sla_escalation: ENTRY.escalation, bpmn_condition_refused: ENTRY.condition, bpmn_flow_no_condition: ENTRY.condition,
  bpmn_script_missing: ENTRY.script,
};
const BY_WHICH = {
  deadline: ENTRY.due, "warning time": ENTRY.warn, escalation: ENTRY.escalation, script: ENTRY.script,
  "pre-script": ENTRY.preScript, "post-script": ENTRY.postScript,
};

export function entryForProblem(element, message, code = null, params = null) {
  const bo = getBusinessObject(element);
  if (code && BY_CODE[code]) return BY_CODE[code];
  if (code && code.startsWith("bpmn_timer_") || code === "bpmn_cycle_here" || code === "bpmn_cycle_too_short") {
    return ENTRY.timer;
  }
  if (code && params && BY_WHICH[params.which]) return BY_WHICH[params.which];
  const lower = (message || "").toLowerCase();
  if (is(bo, "bpmn:ScriptTask")) return ENTRY.script;
  if (is(bo, "bpmn:ServiceTask")) return ENTRY.handler;
  if (timerOf(bo)) return ENTRY.timer;
  if (is(bo, "bpmn:SequenceFlow") && bo.sourceRef && is(bo.sourceRef, "bpmn:Gateway")) return ENTRY.condition;
  if (is(bo, "bpmn:Lane")) return ENTRY.role;
  if (isAny(bo, HUMAN)) {
    if (/form|نموذج/.test(lower)) return ENTRY.form;
    if (/warn|تنبيه|إنذار/.test(lower)) return ENTRY.warn;
    if (/escalat|تصعيد/.test(lower)) return ENTRY.escalation;
    if (/priorit|أولوية/.test(lower)) return ENTRY.priority;
    if (/deadline|due|sla|موعد|مهلة/.test(lower)) return ENTRY.due;
    return ENTRY.form;
  }
  return null;
}

export default function TawasulPropertiesProvider(propertiesPanel, injector) {
  const config = injector.get("config.tawasul", false) || {};
  const lists = { lanes: config.lanes || [], forms: config.forms || [], handlers: config.handlers || [] };
  const t = config.translate || ((word) => word);
  this.getGroups = (element) => (groups) => {
    const entries = entriesFor(element, lists, t);
    if (entries.length) {
      // First, right after "General": what Tawasul reads is what an owner changes most.
      groups.splice(Math.min(1, groups.length), 0, { id: "tawasul", label: t("Tawasul"), entries });
    }
    return groups;
  };
  propertiesPanel.registerProvider(500, this);
}

TawasulPropertiesProvider.$inject = ["propertiesPanel", "injector"];
