// Bundles entry.js into one minified script for the browser, as plotly.js builds its own dist bundles
// (esbuild, an IIFE that defines the global Plotly, ES2016, the attribute documentation left out) but
// with only the trace types in entry.js. Run by build.sh in a folder where `npm ci` has installed
// package-lock.json; the output is the same bytes on every run.
//   node build.mjs <output file>
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { build } from "esbuild";

const require = createRequire(import.meta.url);
const version = require("plotly.js/package.json").version;
const out = process.argv[2];
if (!out) throw new Error("usage: node build.mjs <output file>");

// The attributes' documentation (for plotly's schema and editors, never read when drawing) is most
// of what these source files weigh; plotly.js strips the same fields from its dist bundles.
const META_FIELDS = [
  /\s*description: '.*',?/g,                            // one-line text
  /\s*description: \[[\s\S]*?\]\.join\([\s\S]*?\),?/g,  // text joined from lines
  /\s*(?:role|hrName): '.*',?/g,
  /\s*(?:requiredOpts|otherOpts): \[[\s\S]*?\],?/g,
];
const withoutDocs = {
  name: "plotly-without-attribute-docs",
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]plotly\.js[\\/]src[\\/].*\.js$/ }, async ({ path }) => {
      let code = await readFile(path, "utf8");
      for (const field of META_FIELDS) code = code.replace(field, "");
      return { contents: code, loader: "js" };
    });
  },
};

// The header of plotly.js's own dist files, naming this bundle's traces.
const dist = await readFile(require.resolve("plotly.js/dist/plotly.min.js"), "utf8");
const header = dist.slice(0, dist.indexOf("*/") + 2).replace(
  `plotly.js v${version}`,
  `plotly.js (parklotse kiosk: scatter, bar, heatmap - minified) v${version}`,
);
if (!header.includes("(parklotse kiosk")) throw new Error("plotly.js's dist header has changed");

const result = await build({
  entryPoints: ["entry.js"],
  bundle: true,
  format: "iife",
  globalName: "Plotly",
  minify: true,
  target: "es2016",
  define: { global: "window", "define.amd": "false" },
  // Only map traces import maplibre's CSS; none is drawn here.
  loader: { ".css": "empty" },
  plugins: [withoutDocs],
  banner: { js: header },
  legalComments: "eof",
  write: false,
  outfile: out,
  logLevel: "warning",
});
const script = result.outputFiles.find((f) => f.path.endsWith(".js"));
await writeFile(out, script.contents);
console.log(`${out}: ${script.contents.length} bytes (plotly.js ${version})`);
