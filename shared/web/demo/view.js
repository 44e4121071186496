// Rendering: the conversation list (unread badges, last message), the chat header (presence dot)
// and the timeline (text, thumbnails, recall and delete buttons on one's own messages).
import { $, element, state } from "./state.js";
import { thumbnail } from "./media.js";

/** One line of preview text for a message. */
export function preview(message) {
  if (!message) return "";
  if (message.recalled) return "(recalled)";
  const first = message.body?.[0];
  return first?.type === "text" ? first.text : `[${first?.type ?? "empty"}]`;
}

/** The name a conversation is listed under. */
export function titleOf(conversation) {
  if (conversation.type !== "group") return conversation.peer;
  return state.groupNames.get(conversation.groupId) ?? conversation.groupId;
}

/** Redraws the conversation list, newest first; `onOpen` opens one. */
export function renderConversations(onOpen) {
  const list = $("conversations");
  list.replaceChildren();
  const sorted = [...state.conversations.values()].sort((a, b) => b.updatedAt - a.updatedAt);
  for (const conversation of sorted) {
    const item = element("li", { testId: "conversation", className: conversation.conversationId === state.open ? "active" : "" });
    item.dataset.conversationId = conversation.conversationId;
    item.append(element("b", { text: titleOf(conversation) }));
    if (conversation.unread > 0) item.append(element("span", { className: "badge", testId: "unread", text: String(conversation.unread) }));
    item.append(element("div", { className: "last", text: preview(conversation.lastMessage) }));
    item.onclick = () => onOpen(conversation.conversationId);
    list.append(item);
  }
}

/** Redraws the open conversation's header: its name, and the peer's presence dot. */
export function renderHeader() {
  const conversation = state.conversations.get(state.open);
  const title = $("chat-title");
  title.replaceChildren();
  if (!conversation) return;
  if (conversation.type === "c2c") {
    const online = state.online.get(conversation.peer) === true;
    const dot = element("span", { className: `dot${online ? " online" : ""}`, testId: "presence" });
    dot.dataset.online = String(online);
    dot.title = online ? "online" : "offline";
    title.append(dot);
  }
  title.append(element("span", { text: titleOf(conversation) }));
}

function body(message) {
  const box = element("div", { className: "body" });
  if (message.recalled) {
    box.textContent = "message recalled";
    return box;
  }
  for (const part of message.body ?? []) {
    if (part.type === "image") box.append(thumbnail(part));
    else box.append(element("span", { text: part.type === "text" ? part.text : `[${part.type}]` }));
  }
  return box;
}

/** Redraws the open conversation's messages, oldest first, scrolled to the newest. */
export function renderMessages() {
  const box = $("messages");
  box.replaceChildren();
  const messages = [...(state.messages.get(state.open)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  for (const message of messages) {
    const mine = message.from === state.me;
    const line = element("div", { testId: "message", className: `msg${mine ? " mine" : ""}${message.recalled ? " recalled" : ""}` });
    line.dataset.seq = String(message.seq);
    line.append(element("div", { className: "from", text: message.system ? "notice" : message.from }), body(message));
    if (mine && !message.recalled) {
      const actions = element("div", { className: "actions" });
      for (const [action, label] of [["recall", "recall"], ["delete", "delete for me"]]) {
        const button = element("button", { testId: action, text: label });
        button.dataset.action = action;
        actions.append(button);
      }
      line.append(actions);
    }
    box.append(line);
  }
  box.scrollTop = box.scrollHeight;
}
