// The demo chat app, built on @cirrus-im/sdk: sign-in (hosted account, development token, guest),
// the conversation list with unread badges, one-to-one and group chat with history paging, images,
// read receipts, typing, presence, recall and delete, group creation and live rooms.
import { connect } from "./cirrus.js";
import { $, conversationFor, remember, state, status, targetOf } from "./state.js";
import { preview, renderConversations, renderHeader, renderMessages } from "./view.js";
import { uploadImage } from "./media.js";
import { createGroup, loadGroupNames, renderMembers, watchRoom } from "./groups.js";

/** The page's settings: the WebSocket URL, and whether development tokens are on. */
const config = fetch("/demo/config.json").then((response) => response.json());

config.then(({ devTokens }) => ($("signin-dev").hidden = !devTokens));

async function token(mode, userId, password) {
  const response =
    mode === "dev"
      ? await fetch(`/demo/dev-token?user=${encodeURIComponent(userId)}`)
      : await fetch(mode === "guest" ? "/v1/auth/guest" : `/v1/auth/${mode}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(mode === "guest" ? {} : { userId, password }),
        });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error?.code ?? `HTTP ${response.status}`);
  return answer;
}

const showConversations = () => renderConversations(openConversation);

function bump(message, unread) {
  const conversation = conversationFor(message.conversationId);
  if (message.seq >= conversation.lastSeq) conversation.lastMessage = message;
  conversation.lastSeq = Math.max(conversation.lastSeq, message.seq);
  conversation.updatedAt = message.time;
  if (unread) conversation.unread += 1;
}

async function markRead(conversationId) {
  const conversation = state.conversations.get(conversationId);
  if (state.guest || !conversation || conversation.lastSeq === 0 || conversation.unread === 0) return;
  await state.client.markRead({ conversationId, seq: conversation.lastSeq });
  conversation.unread = 0;
  conversation.readSeq = conversation.lastSeq;
  showConversations();
}

async function watchPresence(conversation) {
  if (conversation.type !== "c2c" || state.online.has(conversation.peer)) return;
  const { users } = await state.client.presenceSubscribe({ userIds: [conversation.peer] });
  for (const user of users) state.online.set(user.userId, user.online);
  renderHeader();
}

async function openConversation(conversationId) {
  state.open = conversationId;
  const conversation = conversationFor(conversationId);
  // Guests read no history; they see what arrives while they watch.
  if (!state.messages.has(conversationId) && !state.guest) {
    const page = await state.client.history({ conversationId, limit: 30 });
    for (const message of page.messages) remember(message);
  }
  $("compose").hidden = state.guest;
  renderHeader();
  renderMessages();
  showConversations();
  await Promise.all([markRead(conversationId), watchPresence(conversation), renderMembers()]);
}

/** Runs a form's action, showing a failure in the status line instead of losing it. */
function onSubmit(id, action) {
  $(id).addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await action(event);
    } catch (error) {
      status(`${id}: ${error.code ?? error.message}`);
    }
  });
}

function listen(client, me) {
  client.on("msg.new", (message) => {
    remember(message);
    const open = message.conversationId === state.open;
    bump(message, message.from !== me && !open && !message.system);
    if (open) {
      renderMessages();
      void markRead(message.conversationId);
    }
    showConversations();
    // A group the page has not seen yet: show it under its name once known.
    if (message.to.type === "group" && !state.groupNames.has(message.to.id) && !state.guest) {
      void loadGroupNames([message.to.id]).then(showConversations);
    }
  });
  client.on("msg.recalled", ({ conversationId, seq, recalledBy, time }) => {
    const message = state.messages.get(conversationId)?.get(seq);
    if (message) Object.assign(message, { recalled: { by: recalledBy, time }, body: [] });
    if (conversationId === state.open) renderMessages();
    showConversations();
  });
  client.on("msg.deleted", ({ conversationId, seqs }) => {
    for (const seq of seqs) state.messages.get(conversationId)?.delete(seq);
    if (conversationId === state.open) renderMessages();
  });
  client.on("msg.read", ({ conversationId, userId, readSeq }) => {
    // One's own read on another device clears the badge here too.
    const conversation = state.conversations.get(conversationId);
    if (userId === me && conversation && readSeq >= conversation.lastSeq) conversation.unread = 0;
    if (conversationId === state.open && userId !== me) status(`read up to #${readSeq}`);
    showConversations();
  });
  client.on("msg.signal", ({ conversationId, from, kind }) => {
    if (conversationId === state.open && kind === "typing") status(`${from} is typing…`);
  });
  client.on("presence.changed", ({ userId, online }) => {
    state.online.set(userId, online);
    renderHeader();
  });
  client.on("group.system", () => void loadConversations());
  client.on("close", ({ willReconnect }) => status(willReconnect ? "reconnecting…" : "disconnected"));
  client.on("open", () => status("connected"));
}

async function loadConversations() {
  const { conversations } = await state.client.convList({ limit: 100 });
  for (const conversation of conversations) {
    state.conversations.set(conversation.conversationId, { ...state.conversations.get(conversation.conversationId), ...conversation });
  }
  await loadGroupNames(conversations.filter((c) => c.type === "group").map((c) => c.groupId));
  showConversations();
}

async function start(client, me, guest) {
  Object.assign(state, { client, me, guest });
  $("signin").hidden = true;
  $("app").hidden = false;
  document.body.classList.toggle("guest", guest);
  listen(client, me);
  if (!guest) await loadConversations();
  status(`signed in as ${me}`);
  $("me").textContent = me;
}

$("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const mode = event.submitter?.dataset.mode ?? "login";
  try {
    const answer = await token(mode, $("user").value.trim(), $("password").value);
    const client = await connect({ url: (await config).wsUrl, token: answer.userSig, platform: "web" });
    await start(client, answer.userId, mode === "guest");
  } catch (error) {
    $("signin-error").textContent = `could not sign in: ${error.code ?? error.message}`;
  }
});

onSubmit("new-chat", async () => {
  const peer = $("peer").value.trim();
  if (!peer) return;
  $("peer").value = "";
  await openConversation(conversationFor(`C2C${peer}`).conversationId);
});

onSubmit("new-group", async (event) => {
  const conversationId = await createGroup();
  event.target.reset();
  await openConversation(conversationId);
});

onSubmit("watch-room", async () => {
  const conversationId = await watchRoom($("room-id").value.trim());
  await openConversation(conversationId);
});

// Scrolled to the top: page back with beforeSeq.
$("messages").addEventListener("scroll", async (event) => {
  if (event.target.scrollTop > 0 || !state.open || state.guest) return;
  const oldest = Math.min(...(state.messages.get(state.open)?.keys() ?? []));
  if (!Number.isFinite(oldest) || oldest <= 1) return;
  const page = await state.client.history({ conversationId: state.open, beforeSeq: oldest, limit: 30 });
  for (const message of page.messages) remember(message);
  renderMessages();
});

// Recall and delete buttons on one's own messages.
$("messages").addEventListener("click", async (event) => {
  const action = event.target.dataset?.action;
  const seq = Number(event.target.closest("[data-seq]")?.dataset.seq);
  const conversationId = state.open;
  const message = state.messages.get(conversationId)?.get(seq);
  if (!action || !message) return;
  try {
    if (action === "recall") {
      const reply = await state.client.recall({ conversationId, seq });
      Object.assign(message, { recalled: { by: reply.recalledBy, time: reply.time }, body: [] });
    } else {
      await state.client.deleteMessages({ conversationId, seqs: [seq] });
      state.messages.get(conversationId)?.delete(seq);
    }
  } catch (error) {
    status(`${action}: ${error.code ?? error.message}`);
  }
  renderMessages();
  showConversations();
});

let lastTyping = 0;
$("text").addEventListener("input", () => {
  const conversation = state.conversations.get(state.open);
  if (!conversation?.peer || Date.now() - lastTyping < 3000) return;
  lastTyping = Date.now();
  void state.client.signal({ to: targetOf(conversation), kind: "typing" }).catch(() => undefined);
});

async function send(body) {
  const conversation = state.conversations.get(state.open);
  if (!conversation) return;
  const to = targetOf(conversation);
  const ack = await state.client.sendMessage(to, body);
  const message = { ...ack, from: state.me, to, clientMsgId: "", body };
  remember(message);
  bump(message, false);
  renderMessages();
  showConversations();
  status(`sent: ${preview(message)}`);
}

onSubmit("compose", async () => {
  const text = $("text").value;
  if (!text) return;
  $("text").value = "";
  await send([{ type: "text", text }]);
});

$("image").addEventListener("change", async (event) => {
  const file = event.target.files?.[0];
  event.target.value = "";
  if (!file || !state.open) return;
  try {
    await send([await uploadImage(file)]);
  } catch (error) {
    status(`image: ${error.code ?? error.message}`);
  }
});
