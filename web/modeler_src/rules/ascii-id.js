// Tawasul's own bpmnlint rule: element ids stay ASCII (names may be Arabic). The engine, the audit
// log and the URLs carry ids; an Arabic id would reach them all.
const ASCII_ID = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export default function asciiId() {
  function check(node, reporter) {
    if (typeof node.id === "string" && node.id && !ASCII_ID.test(node.id)) {
      reporter.report(node.id, "ascii-id");
    }
  }
  return { check };
}
