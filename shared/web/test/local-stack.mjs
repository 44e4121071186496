// Starts the real `cirrus-local` binary for a test: embedded SQLite in a temp dir, free loopback
// ports, the development key, hosted accounts on.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const repo = resolve(import.meta.dirname, "../../..");

/** The binary: $CIRRUS_LOCAL_BIN, else the workspace's debug build (built here if missing). */
export function localBinary() {
  if (process.env.CIRRUS_LOCAL_BIN) return process.env.CIRRUS_LOCAL_BIN;
  const binary = join(repo, "target/debug/cirrus-local");
  if (!existsSync(binary)) execFileSync("cargo", ["build", "--locked", "-p", "cirrus-local"], { cwd: repo, stdio: "inherit" });
  return binary;
}

/**
 * Starts the stack with `extraArgs` and `extraEnv`; resolves with its URLs and a `stop()` that
 * kills it and removes its data.
 */
export async function startLocalStack(extraArgs = [], extraEnv = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "cirrus-web-"));
  const env = { ...process.env, RUST_LOG: "warn", ...extraEnv };
  if (!("CIRRUS_SECRET_KEY" in extraEnv)) delete env.CIRRUS_SECRET_KEY;
  delete env.CIRRUS_APP_ID;
  const child = spawn(
    localBinary(),
    ["--ws-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--connections-addr", "127.0.0.1:0",
      "--data-dir", dataDir, "--hosted-accounts", "--web-dir", resolve(import.meta.dirname, ".."), ...extraArgs],
    { env, stdio: ["ignore", "pipe", "inherit"] },
  );
  const urls = await new Promise((resolveUrls, reject) => {
    const found = {};
    const timer = setTimeout(() => reject(new Error("cirrus-local printed no banner within 20 s")), 20_000);
    child.once("exit", (code) => reject(new Error(`cirrus-local exited with ${code} before its banner`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const ws = line.match(/WebSocket API\s+(ws:\/\/\S+?)\/\?/);
      const http = line.match(/HTTP API\s+(http:\/\/\S+)/);
      const demo = line.match(/demo chat\s+(http:\/\/\S+)/);
      if (demo) found.demo = demo[1];
      if (ws) found.ws = ws[1];
      if (http) found.http = http[1];
      // The demo line is the banner's last (the stack always gets the web directory here).
      if (found.ws && found.http && found.demo) {
        clearTimeout(timer);
        resolveUrls(found);
      }
    });
  });
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
  return {
    ...urls,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Registers a hosted account and returns its UserSig (docs/accounts.md, hosted mode). */
export async function register(httpUrl, userId) {
  const response = await fetch(`${httpUrl}/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userId, password: `password of ${userId}` }),
  });
  if (!response.ok) throw new Error(`register ${userId}: ${response.status} ${await response.text()}`);
  return (await response.json()).userSig;
}
