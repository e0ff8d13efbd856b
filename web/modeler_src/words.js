// bpmn-js's `translate` service in the page's language: the words come from the page (the server's
// catalogue), a word it does not give stays as bpmn-js wrote it; {name} placeholders are filled.
export function translator(words) {
  return function translate(template, replacements = {}) {
    const text = Object.hasOwn(words, template) ? words[template] : template;
    return text.replace(/{([^}]+)}/g, (all, key) => (Object.hasOwn(replacements, key) ? replacements[key] : all));
  };
}
