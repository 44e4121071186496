// The demo's shared state and small DOM helpers, imported by each of its modules.

/** The element with `id`. */
export const $ = (id) => document.getElementById(id);

/** What the page knows: the client, who is signed in, conversations and their messages. */
export const state = {
  client: null,
  me: "",
  guest: false,
  /** conversationId → Conversation (as conv.list returns it, plus `name` for groups). */
  conversations: new Map(),
  /** The open conversation's id. */
  open: null,
  /** conversationId → (seq → Message). */
  messages: new Map(),
  /** groupId → name, from group.create / group.info. */
  groupNames: new Map(),
  /** userId → online, from presence.subscribe and presence.changed. */
  online: new Map(),
};

/** A new element with a class, a `data-testid` and text. */
export function element(tag, { className, testId, text } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (testId) node.dataset.testid = testId;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Shows `text` in the status line. */
export function status(text) {
  $("status").textContent = text;
}

/** The message target of a conversation. */
export function targetOf(conversation) {
  return conversation.type === "group" ? { type: "group", id: conversation.groupId } : { type: "c2c", id: conversation.peer };
}

/** Stores a message under its conversation and seq. */
export function remember(message) {
  let messages = state.messages.get(message.conversationId);
  if (!messages) state.messages.set(message.conversationId, (messages = new Map()));
  messages.set(message.seq, message);
}

/** The conversation entry for `conversationId`, created empty when the page has none yet. */
export function conversationFor(conversationId) {
  let conversation = state.conversations.get(conversationId);
  if (!conversation) {
    const group = conversationId.startsWith("GROUP");
    conversation = {
      conversationId,
      type: group ? "group" : "c2c",
      peer: group ? undefined : conversationId.slice(3),
      groupId: group ? conversationId.slice(5) : undefined,
      lastSeq: 0,
      readSeq: 0,
      unread: 0,
      updatedAt: Date.now(),
    };
    state.conversations.set(conversationId, conversation);
  }
  return conversation;
}
