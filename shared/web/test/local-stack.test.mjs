// The SDK against the real local stack: two users chat both ways, a reconnect fills the gap with
// msg.sync, an outbox resend stores one message, and an image goes up through its presigned URL.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { connect } from "../dist/cirrus.js";
import { register, startLocalStack } from "./local-stack.mjs";
import { png } from "./png.mjs";

/** A WebSocket class the test can take offline, and whose replies it can hold back. */
function controlledSocket() {
  const control = { offline: false, holdAfterSend: false, sockets: [] };
  control.Socket = class extends WebSocket {
    constructor(url) {
      // Port 1 refuses at once: the client sees a failed attempt and backs off.
      super(control.offline ? "ws://127.0.0.1:1/" : url);
      control.sockets.push(this);
    }
    send(data) {
      super.send(data);
      // Stop reading right after a msg.send goes out, so its ack is never seen on this socket.
      if (control.holdAfterSend && JSON.parse(data).action === "msg.send") this.pause();
    }
  };
  control.current = () => control.sockets.at(-1);
  return control;
}

let stack;
let alice;
let bob;
const aliceSocket = controlledSocket();
const toBob = { type: "c2c", id: "bob" };

before(async () => {
  stack = await startLocalStack();
  const [aliceToken, bobToken] = [await register(stack.http, "alice"), await register(stack.http, "bob")];
  const common = { url: stack.ws, backoff: { initialMs: 50, maxMs: 200 }, pingIntervalMs: 0 };
  alice = await connect({ ...common, token: aliceToken, WebSocket: aliceSocket.Socket });
  bob = await connect({ ...common, token: bobToken, WebSocket, platform: "web" });
});

after(async () => {
  alice?.close();
  bob?.close();
  await stack?.stop();
});

test("two users chat both ways", async () => {
  // GIVEN alice and bob connected WHEN each writes to the other THEN each gets the other's message live
  const bobGets = bob.next("msg.new", (m) => m.from === "alice");
  const ack = await alice.sendMessage(toBob, [{ type: "text", text: "hello bob" }]);
  assert.equal(ack.conversationId, "C2Cbob");
  const atBob = await bobGets;
  assert.equal(atBob.msgId, ack.msgId);
  assert.deepEqual(atBob.body, [{ type: "text", text: "hello bob" }]);
  assert.equal(atBob.conversationId, "C2Calice");

  const aliceGets = alice.next("msg.new", (m) => m.from === "bob");
  const reply = await bob.sendText("alice", "hi alice");
  assert.equal((await aliceGets).msgId, reply.msgId);
  assert.equal(reply.seq, ack.seq + 1, "one seq per conversation, shared by both sides");

  const { conversations } = await bob.convList();
  assert.equal(conversations[0].conversationId, "C2Calice");
  assert.equal(conversations[0].unread, 0, "bob's own message counts as read up to it");
});

test("a reconnect fills the gap with msg.sync", async () => {
  // GIVEN alice offline WHEN bob sends three messages and alice comes back THEN the gap fill delivers them, in order
  const before = alice.seqOf("C2Cbob");
  assert.ok(before >= 2);
  aliceSocket.offline = true;
  const closed = alice.next("close");
  aliceSocket.current().terminate();
  assert.equal((await closed).willReconnect, true);
  // Alice is offline (her attempts are refused) while bob sends three messages.
  const missed = [];
  for (const text of ["one", "two", "three"]) missed.push(await bob.sendText("alice", text));
  const delivered = [];
  const off = alice.on("msg.new", (m) => delivered.push(m));
  const synced = alice.next("synced");
  await alice.next("reconnecting", (event) => event.attempt >= 2);
  aliceSocket.offline = false;
  assert.deepEqual(await synced, { messages: 3 });
  off();
  assert.deepEqual(delivered.map((m) => m.msgId), missed.map((a) => a.msgId));
  assert.deepEqual(delivered.map((m) => m.body[0].text), ["one", "two", "three"]);
  assert.equal(alice.seqOf("C2Cbob"), missed[2].seq);
});

test("an outbox resend after a lost ack stores one message", async () => {
  // GIVEN a send stored by the server whose ack alice never reads WHEN her connection drops THEN the
  // outbox resends it, the server answers with the first ack, and history holds it once
  const bobGets = bob.next("msg.new", (m) => m.from === "alice");
  aliceSocket.holdAfterSend = true;
  const sending = alice.sendMessage(toBob, [{ type: "text", text: "exactly once" }], { clientMsgId: "web-outbox-1" });
  // Bob's copy proves the server stored it; alice's ack is held back on her paused socket.
  const stored = await bobGets;
  assert.equal(alice.unacknowledged, 1);
  aliceSocket.holdAfterSend = false;
  aliceSocket.current().terminate();
  const ack = await sending;
  assert.equal(ack.msgId, stored.msgId, "the resend is answered with the first ack");
  assert.ok(aliceSocket.sockets.length >= 3, "the resend went out on a new connection");
  const { messages } = await alice.history({ conversationId: "C2Cbob", limit: 50 });
  assert.equal(messages.filter((m) => m.clientMsgId === "web-outbox-1").length, 1);
  assert.equal(messages.at(-1).msgId, ack.msgId);
});

test("an image goes up through the presigned URL with progress and comes down as a thumbnail", async () => {
  // GIVEN a real PNG WHEN alice uploads it and sends it THEN progress is reported and bob can fetch its thumbnail
  const image = png(400, 300);
  const progress = [];
  const mediaId = await alice.uploadMedia(image, {
    kind: "image",
    contentType: "image/png",
    onProgress: (sent, total) => progress.push([sent, total]),
  });
  assert.ok(progress.length >= 2, `progress per chunk: ${JSON.stringify(progress)}`);
  assert.deepEqual(progress.at(-1), [image.length, image.length]);
  const bobGets = bob.next("msg.new", (m) => m.body[0]?.type === "image");
  await alice.sendMessage(toBob, [{ type: "image", format: "png", original: { mediaId, width: 400, height: 300 }, thumbnail: { mediaId } }]);
  const atBob = await bobGets;
  const download = await bob.mediaDownload({ mediaId: atBob.body[0].original.mediaId, rendition: "thumbnail" });
  assert.equal(download.width, 198);
  const response = await fetch(download.url);
  assert.equal(response.status, 200);
  assert.equal((await response.arrayBuffer()).byteLength, download.size);
});

test("server errors carry their stable code", async () => {
  // GIVEN requests the server refuses WHEN made THEN they reject with the documented codes
  await assert.rejects(alice.sendText("nobody-here", "hi"), (error) => error.code === "not_found");
  await assert.rejects(alice.markRead({ conversationId: "bad", seq: 1 }), (error) => error.code === "invalid_conversation_id");
});

test("the local stack serves the demo chat app on its HTTP root, built on the SDK", async () => {
  // GIVEN the stack started with the web directory WHEN a browser loads the root THEN it gets the
  // page, its script, the SDK bundle and the WebSocket URL to connect to
  assert.equal(stack.demo, `${stack.http}/`, "the banner prints the demo's URL");
  const page = await fetch(stack.demo);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /text\/html/);
  assert.match(await page.text(), /<script type="module" src="app.js">/);
  const app = await (await fetch(`${stack.http}/app.js`)).text();
  assert.match(app, /from "\.\/cirrus\.js"/);
  const bundle = await fetch(`${stack.http}/cirrus.js`);
  assert.match(bundle.headers.get("content-type"), /javascript/);
  assert.match(await bundle.text(), /sendMessage/);
  for (const module of ["state.js", "view.js", "media.js", "groups.js"]) {
    assert.equal((await fetch(`${stack.http}/${module}`)).status, 200, module);
  }
  assert.deepEqual(await (await fetch(`${stack.http}/demo/config.json`)).json(), { wsUrl: stack.ws, devTokens: true });
});

test("on the development key the demo mints development tokens that connect", async () => {
  // GIVEN the stack on the public development key WHEN the page asks for carol's token THEN it connects as carol
  const answer = await (await fetch(`${stack.http}/demo/dev-token?user=carol`)).json();
  assert.equal(answer.userId, "carol");
  const carol = await connect({ url: stack.ws, token: answer.userSig, WebSocket, pingIntervalMs: 0 });
  try {
    const ack = await carol.sendText("bob", "hi from a development token");
    assert.equal(ack.conversationId, "C2Cbob");
  } finally {
    carol.close();
  }
  // AND a bad user id or none is refused with a stable code
  const bad = await fetch(`${stack.http}/demo/dev-token?user=${encodeURIComponent("no spaces")}`);
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, "invalid_user_id");
  const missing = await fetch(`${stack.http}/demo/dev-token`);
  assert.equal((await missing.json()).error.code, "missing_field");
});

test("on any other key the demo has no development tokens", async () => {
  // GIVEN a stack with a secret key of its own WHEN the page asks THEN there is no such endpoint
  const keyed = await startLocalStack([], { CIRRUS_SECRET_KEY: "a-key-of-this-deployment-only" });
  try {
    assert.deepEqual(await (await fetch(`${keyed.http}/demo/config.json`)).json(), { wsUrl: keyed.ws, devTokens: false });
    assert.equal((await fetch(`${keyed.http}/demo/dev-token?user=carol`)).status, 404);
  } finally {
    await keyed.stop();
  }
});
