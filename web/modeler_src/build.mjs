// Bundles the modeler's front end with esbuild (run by `make install`; the output is never committed):
//   web/static/build/modeler.js (+ modeler.css)  the editor: bpmn-js Modeler, properties panel, bpmnlint
//   web/static/build/diff.js     (+ diff.css)     the visual diff of two versions
// bpmnlint resolves its rules by name at run time (from node_modules, in Node); in the browser the
// rules must be in the bundle: the virtual module "tawasul-bpmnlint" packs `lintrc.json` with a
// static resolver, each rule imported by name (what bpmnlint-pack-config does with rollup).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "static", "build");

function ruleSource(name) {
  // A rule of bpmnlint itself, as bpmnlint's static resolver looks it up.
  return { key: `rule:bpmnlint/${name}`, path: `bpmnlint/rules/${name}` };
}

const packLintConfig = {
  name: "tawasul-bpmnlint",
  setup(build) {
    build.onResolve({ filter: /^tawasul-bpmnlint$/ }, () => ({ path: "lintrc", namespace: "tawasul-bpmnlint" }));
    build.onLoad({ filter: /.*/, namespace: "tawasul-bpmnlint" }, () => {
      const config = JSON.parse(readFileSync(join(here, "lintrc.json"), "utf8"));
      const lines = ['import StaticResolver from "bpmnlint/lib/resolver/static-resolver";'];
      const cache = [];
      Object.keys(config.rules).forEach((name, index) => {
        const { key, path } = ruleSource(name);
        lines.push(`import rule${index} from ${JSON.stringify(path)};`);
        cache.push(`${JSON.stringify(key)}: rule${index}`);
      });
      lines.push(`export const config = ${JSON.stringify(config)};`);
      lines.push(`export const resolver = new StaticResolver({ ${cache.join(", ")} });`);
      lines.push("export default { config, resolver };");
      return { contents: lines.join("\n"), resolveDir: here, loader: "js" };
    });
  },
};

// The pages' Content-Security-Policy refuses inline style attributes: the properties panel's container
// is created with one (its height, given by modeler.css instead). Fails loudly if a new version changes it.
const PANEL_CONTAINER = '<div style="height: 100%" tabindex="-1" class="bio-properties-panel-container"></div>';
const noInlineStyle = {
  name: "tawasul-no-inline-style",
  setup(build) {
    build.onLoad({ filter: /bpmn-js-properties-panel[\\/]dist[\\/]index\.esm\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      if (!source.includes(PANEL_CONTAINER)) {
        throw new Error("bpmn-js-properties-panel no longer creates its container as expected: review build.mjs");
      }
      return { contents: source.replace(PANEL_CONTAINER, PANEL_CONTAINER.replace('style="height: 100%" ', "")), loader: "js" };
    });
  },
};

await esbuild.build({
  entryPoints: { modeler: join(here, "modeler.js"), diff: join(here, "diff.js") },
  bundle: true,
  format: "iife",
  target: ["es2020"],
  minify: true,
  sourcemap: false,
  legalComments: "linked",
  outdir,
  loader: { ".svg": "dataurl", ".woff": "file", ".woff2": "file", ".eot": "file", ".ttf": "file" },
  assetNames: "assets/[name]-[hash]",
  plugins: [packLintConfig, noInlineStyle],
  logLevel: "warning",
});
console.log(`modeler front end built in ${outdir}`);
