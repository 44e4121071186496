// What the browser tests run on: Debian's Chromium driven by playwright-core (never a downloaded
// browser), a moto server for the AWS backend, and a signed-in demo page per user.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { chromium } from "playwright-core";

const repo = resolve(import.meta.dirname, "../../..");

/** Where screenshots go (gitignored): kept by CI as test artifacts. */
export const ARTIFACTS = resolve(import.meta.dirname, "../test-artifacts");

/** Debian's Chromium (scripts/setup-tools installs it). */
export const CHROMIUM = process.env.CIRRUS_CHROMIUM ?? "/usr/bin/chromium";

/**
 * Launches headless Chromium from its path. Playwright gives it a fresh --user-data-dir and
 * --no-sandbox (no sandbox as root in CI); the rest keep it off the network, which is closed here.
 */
export function launchChromium() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup-tools (Debian's chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: [
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

async function freePort() {
  const server = createServer();
  await new Promise((listening) => server.listen(0, "127.0.0.1", listening));
  const { port } = server.address();
  await new Promise((closed) => server.close(closed));
  return port;
}

function accepts(port) {
  return new Promise((answer) => {
    const socket = tcpConnect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.end();
      answer(true);
    });
    socket.once("error", () => answer(false));
  });
}

/** Starts `.venv/bin/moto_server` on a free port; resolves with its endpoint and a `stop()`. */
export async function startMoto() {
  const binary = join(repo, ".venv/bin/moto_server");
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run scripts/setup-tools to install moto`);
  const port = await freePort();
  const child = spawn(binary, ["-H", "127.0.0.1", "-p", String(port)], { cwd: repo, stdio: "ignore" });
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
  // A test process that dies still takes the server with it.
  const kill = () => child.kill("SIGTERM");
  process.once("exit", kill);
  const deadline = Date.now() + 60_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`moto_server did not listen on ${port} within 60 s`);
    await delay(100);
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      process.off("exit", kill);
      kill();
      await exited;
    },
  };
}

/**
 * Opens the demo in a new browser context and signs in: `mode` is `register` (a hosted account),
 * `dev` (a development token) or `guest`. Resolves with the page once the app shows.
 */
export async function signIn(browser, demoUrl, mode, userId = "") {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  await page.goto(demoUrl);
  if (mode !== "guest") {
    await page.getByTestId("user").fill(userId);
    await page.getByTestId("password").fill(`password of ${userId}`);
  }
  await page.getByTestId(`signin-${mode}`).click();
  await page.getByTestId("me").filter({ hasText: mode === "guest" ? "guest_" : userId }).waitFor();
  return page;
}

/** Sends `text` in the open conversation and waits for it in the page's own timeline. */
export async function say(page, text) {
  await page.getByTestId("text").fill(text);
  await page.getByTestId("send").click();
  await message(page, text).waitFor();
}

/** The timeline's message holding `text`. */
export function message(page, text) {
  return page.getByTestId("message").filter({ hasText: text });
}

/** The conversation list's entry named `name`. */
export function conversation(page, name) {
  return page.getByTestId("conversation").filter({ has: page.locator("b", { hasText: name }) });
}

/** Saves a screenshot of `page` as test-artifacts/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}
