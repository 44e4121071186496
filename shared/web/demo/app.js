// The demo chat app, built on @cirrus-im/sdk: sign in, conversation list with unread badges and
// last message, one-to-one chat with history paging, read receipts and typing.
import { connect } from "./cirrus.js";

const $ = (id) => document.getElementById(id);
const state = { client: null, me: "", conversations: new Map(), open: null, messages: new Map() };

/** The WebSocket API: the page is served by the local stack's HTTP API, one port below it. */
async function wsUrl() {
  const response = await fetch("/demo/config.json");
  return (await response.json()).wsUrl;
}

async function token(mode, userId, password) {
  const path = mode === "guest" ? "/v1/auth/guest" : `/v1/auth/${mode}`;
  const body = mode === "guest" ? {} : { userId, password };
  const response = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error?.code ?? `HTTP ${response.status}`);
  return answer;
}

function preview(message) {
  const element = message?.body?.[0];
  if (!message) return "";
  if (message.recalled) return "(recalled)";
  return element?.type === "text" ? element.text : `[${element?.type ?? "empty"}]`;
}

function renderConversations() {
  const list = $("conversations");
  list.replaceChildren();
  const sorted = [...state.conversations.values()].sort((a, b) => b.updatedAt - a.updatedAt);
  for (const conversation of sorted) {
    const item = document.createElement("li");
    item.dataset.conversationId = conversation.conversationId;
    item.className = conversation.conversationId === state.open ? "active" : "";
    const name = document.createElement("b");
    name.textContent = conversation.peer ?? conversation.groupId ?? conversation.conversationId;
    item.append(name);
    if (conversation.unread > 0) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = String(conversation.unread);
      item.append(badge);
    }
    const last = document.createElement("div");
    last.className = "last";
    last.textContent = preview(conversation.lastMessage);
    item.append(last);
    item.onclick = () => openConversation(conversation.conversationId);
    list.append(item);
  }
}

function renderMessages() {
  const box = $("messages");
  box.replaceChildren();
  const messages = [...(state.messages.get(state.open)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  for (const message of messages) {
    const line = document.createElement("div");
    line.className = `msg${message.from === state.me ? " mine" : ""}${message.recalled ? " recalled" : ""}`;
    line.dataset.seq = String(message.seq);
    const from = document.createElement("div");
    from.className = "from";
    from.textContent = message.from;
    const text = document.createElement("div");
    text.textContent = preview(message);
    line.append(from, text);
    box.append(line);
  }
  box.scrollTop = box.scrollHeight;
}

function remember(message) {
  let messages = state.messages.get(message.conversationId);
  if (!messages) state.messages.set(message.conversationId, (messages = new Map()));
  messages.set(message.seq, message);
}

function bump(message, unread) {
  const conversation = state.conversations.get(message.conversationId) ?? {
    conversationId: message.conversationId,
    type: message.to.type,
    peer: message.to.type === "c2c" ? message.conversationId.slice(3) : undefined,
    groupId: message.to.type === "group" ? message.to.id : undefined,
    lastSeq: 0,
    readSeq: 0,
    unread: 0,
  };
  conversation.lastMessage = message;
  conversation.lastSeq = Math.max(conversation.lastSeq, message.seq);
  conversation.updatedAt = message.time;
  if (unread) conversation.unread += 1;
  state.conversations.set(message.conversationId, conversation);
}

async function markRead(conversationId) {
  const conversation = state.conversations.get(conversationId);
  if (!conversation || conversation.lastSeq === 0 || conversation.unread === 0) return;
  await state.client.markRead({ conversationId, seq: conversation.lastSeq });
  conversation.unread = 0;
  conversation.readSeq = conversation.lastSeq;
  renderConversations();
}

async function openConversation(conversationId) {
  state.open = conversationId;
  if (!state.messages.has(conversationId)) {
    const page = await state.client.history({ conversationId, limit: 30 });
    for (const message of page.messages) remember(message);
  }
  renderMessages();
  renderConversations();
  await markRead(conversationId);
}

// Scrolled to the top: page back with beforeSeq.
$("messages").addEventListener("scroll", async (event) => {
  if (event.target.scrollTop > 0 || !state.open) return;
  const held = [...(state.messages.get(state.open)?.keys() ?? [])];
  const oldest = Math.min(...held);
  if (!Number.isFinite(oldest) || oldest <= 1) return;
  const page = await state.client.history({ conversationId: state.open, beforeSeq: oldest, limit: 30 });
  for (const message of page.messages) remember(message);
  renderMessages();
});

async function start(client, me) {
  state.client = client;
  state.me = me;
  $("signin").style.display = "none";
  $("app").style.display = "flex";
  client.on("msg.new", (message) => {
    remember(message);
    const mine = message.from === me;
    bump(message, !mine && message.conversationId !== state.open);
    if (message.conversationId === state.open) {
      renderMessages();
      void markRead(message.conversationId);
    }
    renderConversations();
  });
  client.on("msg.recalled", ({ conversationId, seq }) => {
    const message = state.messages.get(conversationId)?.get(seq);
    if (message) message.recalled = { by: "", time: 0 };
    renderMessages();
  });
  client.on("msg.read", ({ conversationId, readSeq }) => {
    if (conversationId === state.open) $("status").textContent = `read up to #${readSeq}`;
  });
  client.on("msg.signal", ({ conversationId, from, kind }) => {
    if (conversationId === state.open && kind === "typing") $("status").textContent = `${from} is typing…`;
  });
  client.on("close", ({ willReconnect }) => ($("status").textContent = willReconnect ? "reconnecting…" : "disconnected"));
  client.on("open", () => ($("status").textContent = "connected"));
  const { conversations } = await client.convList({ limit: 100 });
  for (const conversation of conversations) state.conversations.set(conversation.conversationId, conversation);
  renderConversations();
  $("status").textContent = `signed in as ${me}`;
}

$("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const mode = event.submitter?.dataset.mode ?? "login";
  try {
    const answer = await token(mode, $("user").value, $("password").value);
    const client = await connect({ url: await wsUrl(), token: answer.userSig });
    await start(client, answer.userId);
  } catch (error) {
    $("signin-error").textContent = `could not sign in: ${error.message}`;
  }
});

$("new-chat").addEventListener("submit", async (event) => {
  event.preventDefault();
  const peer = $("peer").value.trim();
  if (!peer) return;
  $("peer").value = "";
  const conversationId = `C2C${peer}`;
  if (!state.conversations.has(conversationId)) {
    state.conversations.set(conversationId, { conversationId, type: "c2c", peer, lastSeq: 0, readSeq: 0, unread: 0, updatedAt: Date.now() });
  }
  await openConversation(conversationId);
});

let lastTyping = 0;
$("text").addEventListener("input", () => {
  const conversation = state.conversations.get(state.open);
  if (!conversation?.peer || Date.now() - lastTyping < 3000) return;
  lastTyping = Date.now();
  void state.client.signal({ to: { type: "c2c", id: conversation.peer }, kind: "typing" }).catch(() => undefined);
});

$("compose").addEventListener("submit", async (event) => {
  event.preventDefault();
  const conversation = state.conversations.get(state.open);
  const text = $("text").value;
  if (!conversation || !text) return;
  $("text").value = "";
  const to = conversation.type === "group" ? { type: "group", id: conversation.groupId } : { type: "c2c", id: conversation.peer };
  const ack = await state.client.sendMessage(to, [{ type: "text", text }]);
  const message = { ...ack, from: state.me, to, clientMsgId: "", body: [{ type: "text", text }] };
  remember(message);
  bump(message, false);
  renderMessages();
  renderConversations();
});
