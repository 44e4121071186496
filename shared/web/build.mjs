// Builds dist/cirrus.js (one ES module, no dependencies) and its declarations, then prints the
// bundle's size minified and gzipped: the figure the SDK promises to keep small. The minified
// bundle is also the demo's committed copy, demo/cirrus.js, so that the local stack serves the demo
// on a machine without npm; with `--check-demo` (what scripts/test runs) the build fails instead when
// that copy is not the current build.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, rmSync } from "node:fs";
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

const DEMO_COPY = "demo/cirrus.js";
const demoCopy = Buffer.concat([
  Buffer.from("// The web SDK bundle (minified), written by `npm run build` from src/: do not edit.\n"),
  Buffer.from(bytes),
]);
if (process.argv.includes("--check-demo")) {
  if (!existsSync(DEMO_COPY) || !readFileSync(DEMO_COPY).equals(demoCopy)) {
    console.error(`${DEMO_COPY} is not the current build of src/: run \`npm run build\` and commit it`);
    process.exit(1);
  }
} else {
  writeFileSync(DEMO_COPY, demoCopy);
}
