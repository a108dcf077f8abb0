// Builds dist/ from src/ and the pinned Cytoscape.js release: plain copies,
// so the output is byte-for-byte the same on every machine (a Go test in
// this package checks it against the committed dist/).
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
const cy = join(here, "node_modules", "cytoscape");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "vendor"), { recursive: true });
for (const f of readdirSync(join(here, "src")).sort()) {
  cpSync(join(here, "src", f), join(out, f));
}
const version = JSON.parse(readFileSync(join(cy, "package.json"), "utf8")).version;
cpSync(join(cy, "dist", "cytoscape.esm.min.mjs"), join(out, "vendor", "cytoscape.esm.min.js"));
writeFileSync(
  join(out, "vendor", "cytoscape.LICENSE.txt"),
  `Cytoscape.js ${version} (https://js.cytoscape.org), embedded as vendor/cytoscape.esm.min.js\n\n` +
    readFileSync(join(cy, "LICENSE"), "utf8"),
);
console.log(`dist/ built: src/ and cytoscape ${version}`);
