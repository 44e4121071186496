// Unit tests of the SDK against a scripted in-test WebSocket server.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import {
  ACTION_METHODS,
  CirrusClient,
  CirrusError,
  ConnectionError,
  MemoryCache,
  SeenIds,
  TimeoutError,
  backoffDelay,
  connect,
} from "../dist/cirrus.js";
import { fakeServer, push, reply } from "./fake-server.mjs";

const fast = { WebSocket, token: "t0ken", backoff: { initialMs: 20, maxMs: 100 }, pingIntervalMs: 0 };

function message(seq, msgId = `m${seq}`, conversationId = "C2Cbob") {
  return { msgId, seq, conversationId, from: "bob", to: { type: "c2c", id: "alice" }, time: Date.now(), clientMsgId: `c${seq}`, body: [{ type: "text", text: `hi ${seq}` }] };
}

test("backoff: full jitter below a doubling, capped ceiling", () => {
  // GIVEN random draws at the extremes WHEN attempts grow THEN delays span [0, min(cap, initial * 2^n))
  const options = { initialMs: 100, maxMs: 1000 };
  assert.equal(backoffDelay(0, options, () => 0), 0);
  assert.equal(backoffDelay(0, options, () => 0.999), 99);
  assert.equal(backoffDelay(3, options, () => 0.999), 799);
  assert.equal(backoffDelay(4, options, () => 0.999), 999);
  assert.equal(backoffDelay(5000, options, () => 0.5), 500);
  for (let n = 0; n < 200; n += 1) {
    const delay = backoffDelay(n % 12, options);
    assert.ok(delay >= 0 && delay < Math.min(1000, 100 * 2 ** (n % 12)), `attempt ${n % 12}: ${delay}`);
  }
});

test("the token and platform go in the query; replies match by reqId out of order", async () => {
  // GIVEN a connected client WHEN two requests are answered in reverse order THEN each gets its own reply
  let query;
  const server = await fakeServer((_socket, request) => (query = new URL(request.url, "ws://x").searchParams));
  const client = await connect({ ...fast, url: server.url, platform: "web" });
  assert.equal(query.get("token"), "t0ken");
  assert.equal(query.get("platform"), "web");
  const history = client.history({ conversationId: "C2Cbob", limit: 5 });
  const list = client.convList({ limit: 1 });
  const first = await server.request((f) => f.action === "msg.history");
  const second = await server.request((f) => f.action === "conv.list");
  assert.notEqual(first.frame.reqId, second.frame.reqId);
  assert.deepEqual(first.frame.data, { conversationId: "C2Cbob", limit: 5 });
  // The second request is answered first.
  reply(second.socket, second.frame, { conversations: [] });
  reply(first.socket, first.frame, { messages: [message(1)], complete: true });
  assert.deepEqual(await list, { conversations: [] });
  assert.equal((await history).messages[0].seq, 1);
  client.close();
  await server.close();
});

test("an error reply rejects with the server's code; a silent server times the request out", async () => {
  // GIVEN a server that refuses one request and ignores another WHEN both are made THEN one rejects
  // with the server's code, the other with a timeout; after close() requests fail at once
  const server = await fakeServer(() => {});
  const client = await connect({ ...fast, url: server.url, requestTimeoutMs: 150 });
  const refused = client.groupInfo({ groupIds: ["g"] });
  const { socket, frame } = await server.request((f) => f.action === "group.info");
  socket.send(JSON.stringify({ type: "reply", reqId: frame.reqId, ok: false, error: { code: "rate_limited", message: "slow down", retryAfterMs: 50 } }));
  await assert.rejects(refused, (error) => error instanceof CirrusError && error.code === "rate_limited" && error.retryAfterMs === 50);
  const started = Date.now();
  await assert.rejects(client.friendList(), (error) => error instanceof TimeoutError && error.action === "friend.list");
  assert.ok(Date.now() - started >= 140, "the timeout waited its time");
  client.close();
  await assert.rejects(client.ping(), ConnectionError);
  await server.close();
});

test("every action of the table has a client method", () => {
  // GIVEN the action table WHEN each method is looked up THEN the client has it, once
  for (const [action, method] of Object.entries(ACTION_METHODS)) {
    assert.equal(typeof CirrusClient.prototype[method], "function", `${action} -> ${method}`);
  }
  assert.equal(new Set(Object.values(ACTION_METHODS)).size, Object.keys(ACTION_METHODS).length);
});

test("de-duplication: a repeated msg.new and a sync repeat reach the app once", async () => {
  // GIVEN a message pushed twice, then a drop WHEN the reconnect's sync repeats it THEN the app sees it once
  const server = await fakeServer((socket, _request, n) => {
    if (n === 1) {
      // Delivery is at least once: the same message twice, then a drop.
      setTimeout(() => {
        push(socket, "msg.new", message(1));
        push(socket, "msg.new", message(1));
        setTimeout(() => socket.terminate(), 30);
      }, 30);
    }
  });
  const cache = new MemoryCache();
  const client = await connect({ ...fast, url: server.url, cache });
  const seen = [];
  client.on("msg.new", (m) => seen.push(m.msgId));
  const synced = client.next("synced");
  // After the reconnect the client syncs from seq 1; the server repeats seq 1 and adds seq 2.
  const { socket, frame } = await server.request((f) => f.action === "msg.sync");
  assert.deepEqual(frame.data.cursors, [{ conversationId: "C2Cbob", seq: 1 }]);
  reply(socket, frame, { conversations: [{ conversationId: "C2Cbob", lastSeq: 2, readSeq: 0, unread: 2, messages: [message(1), message(2)], complete: true }] });
  assert.deepEqual(await synced, { messages: 1 });
  assert.deepEqual(seen, ["m1", "m2"]);
  assert.equal(client.seqOf("C2Cbob"), 2);
  assert.deepEqual((await cache.messages("C2Cbob")).map((m) => m.seq), [1, 2]);
  client.close();
  await server.close();
});

test("gap fill pages msg.history until complete", async () => {
  // GIVEN a sync answer that is not complete WHEN the client fills the gap THEN it pages on with msg.history
  const server = await fakeServer((socket, _request, n) => {
    if (n === 1) setTimeout(() => push(socket, "msg.new", message(1)), 10);
    if (n === 1) setTimeout(() => socket.terminate(), 60);
  });
  const client = await connect({ ...fast, url: server.url, syncLimit: 2 });
  const seen = [];
  client.on("msg.new", (m) => seen.push(m.seq));
  const sync = await server.request((f) => f.action === "msg.sync");
  assert.equal(sync.frame.data.limit, 2);
  reply(sync.socket, sync.frame, { conversations: [{ conversationId: "C2Cbob", lastSeq: 5, readSeq: 0, unread: 5, messages: [message(2), message(3)], complete: false }] });
  const page = await server.request((f) => f.action === "msg.history");
  assert.deepEqual(page.frame.data, { conversationId: "C2Cbob", afterSeq: 3, limit: 2 });
  reply(page.socket, page.frame, { messages: [message(4), message(5)], complete: true });
  assert.deepEqual(await client.next("synced"), { messages: 4 });
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  client.close();
  await server.close();
});

test("outbox: a send dropped before its ack is resent after the reconnect with the same clientMsgId", async () => {
  // GIVEN a send whose connection drops before the ack WHEN the client reconnects THEN it resends it unchanged
  const server = await fakeServer(() => {});
  const client = await connect({ ...fast, url: server.url });
  const closes = [];
  client.on("close", (event) => closes.push(event.willReconnect));
  const sent = client.sendText("bob", "hello");
  const first = await server.request((f) => f.action === "msg.send");
  assert.equal(client.unacknowledged, 1);
  first.socket.terminate();
  const second = await server.request((f) => f.action === "msg.send");
  assert.notEqual(second.socket, first.socket, "resent on the new connection");
  assert.equal(second.frame.data.clientMsgId, first.frame.data.clientMsgId);
  assert.deepEqual(second.frame.data.body, [{ type: "text", text: "hello" }]);
  reply(second.socket, second.frame, { msgId: "m9", seq: 9, time: 1, conversationId: "C2Cbob" });
  assert.equal((await sent).msgId, "m9");
  assert.equal(client.unacknowledged, 0);
  assert.deepEqual(closes, [true]);
  client.close();
  await server.close();
});

test("outbox: an error reply fails the send and does not retry it", async () => {
  // GIVEN a send the server refuses WHEN the refusal comes THEN the send fails and leaves the outbox
  const server = await fakeServer(() => {});
  const client = await connect({ ...fast, url: server.url });
  const sent = client.sendMessage({ type: "group", id: "g" }, [{ type: "text", text: "x" }], { clientMsgId: "mine-1" });
  const { socket, frame } = await server.request((f) => f.action === "msg.send");
  assert.equal(frame.data.clientMsgId, "mine-1");
  socket.send(JSON.stringify({ type: "reply", reqId: frame.reqId, ok: false, error: { code: "muted", message: "muted" } }));
  await assert.rejects(sent, (error) => error.code === "muted");
  assert.equal(client.unacknowledged, 0);
  client.close();
  await server.close();
});

test("reconnects with backoff after repeated failures, and a refused token stops it", async () => {
  // GIVEN a dropped connection and a server refusing upgrades WHEN the client retries THEN attempts
  // back off, it reconnects once accepted, and a 401 stops it for good
  let accepting = true;
  const server = await fakeServer(() => {});
  server.server.options.verifyClient = (_info, done) => (accepting ? done(true) : done(false, 503));
  const client = await connect({ ...fast, url: server.url });
  const attempts = [];
  client.on("reconnecting", (event) => attempts.push(event));
  accepting = false;
  server.connections[0].terminate();
  await client.next("reconnecting", (event) => event.attempt === 3);
  assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3]);
  for (const { attempt, delayMs } of attempts) assert.ok(delayMs < Math.min(100, 20 * 2 ** (attempt - 1)) + 1);
  accepting = true;
  assert.deepEqual(await client.next("open"), { reconnect: true });
  // Now the server refuses the token: the client stops for good.
  server.server.options.verifyClient = (_info, done) => done(false, 401);
  const finalClose = client.next("close", (event) => !event.willReconnect);
  server.connections.at(-1).terminate();
  await finalClose;
  await assert.rejects(client.sendText("bob", "late"), ConnectionError);
  client.close();
  await server.close();
});

test("the first connection's failure rejects connect", async () => {
  // GIVEN a server that refuses the token WHEN connecting THEN connect rejects
  const server = await fakeServer(() => {});
  server.server.options.verifyClient = (_info, done) => done(false, 401);
  await assert.rejects(connect({ ...fast, url: server.url }), /refused the token/);
  await server.close();
});

test("SeenIds forgets the oldest past its capacity", () => {
  // GIVEN a set of capacity 2 WHEN a third id comes THEN the first is forgotten
  const seen = new SeenIds(2);
  assert.equal(seen.add("a"), true);
  assert.equal(seen.add("a"), false);
  seen.add("b");
  seen.add("c");
  assert.equal(seen.has("a"), false);
  assert.equal(seen.has("c"), true);
});

test("a history page of the newest messages moves the sync cursor and counts them as seen", async () => {
  // GIVEN a client that read the newest page of a conversation WHEN a message of it comes again
  // live THEN it is not delivered twice, and the next sync starts after that page
  const server = await fakeServer(() => {});
  const client = await connect({ ...fast, url: server.url });
  const seen = [];
  client.on("msg.new", (m) => seen.push(m.seq));
  const history = client.history({ conversationId: "C2Cbob" });
  const asked = await server.request((f) => f.action === "msg.history");
  reply(asked.socket, asked.frame, { messages: [message(1), message(2)], complete: true });
  await history;
  assert.equal(client.seqOf("C2Cbob"), 2);
  push(asked.socket, "msg.new", message(2));
  push(asked.socket, "msg.new", message(3));
  await client.next("msg.new", (m) => m.seq === 3);
  assert.deepEqual(seen, [3]);
  assert.equal(client.seqOf("C2Cbob"), 3);
  client.close();
  await server.close();
});
