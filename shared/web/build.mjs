// Builds dist/cirrus.js (one ES module, no dependencies) and its declarations, then prints the
// bundle's size minified and gzipped: the figure the SDK promises to keep small.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";

rmSync("dist", { recursive: true, force: true });
// Type-checks the sources and writes the declarations; esbuild only strips types.
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });
writeFileSync("dist/cirrus.d.ts", 'export * from "./types/index.js";\n');

const common = { entryPoints: ["src/index.ts"], bundle: true, format: "esm", target: "es2022", platform: "neutral" };
await build({ ...common, outfile: "dist/cirrus.js", sourcemap: true });
const minified = await build({ ...common, write: false, minify: true, outfile: "cirrus.min.js" });
const bytes = minified.outputFiles[0].contents;
const gzipped = gzipSync(bytes, { level: 9 }).length;
const plain = readFileSync("dist/cirrus.js").length;
console.log(`@cirrus-im/sdk: dist/cirrus.js ${plain} B; minified ${bytes.length} B, gzipped ${gzipped} B`);
