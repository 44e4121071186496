// Groups: creating one (name, members; a live room has none), the member list of the open group,
// and entering a live room, which a guest may do to watch it without an account.
import { $, conversationFor, element, state } from "./state.js";

/** Creates a group from the form's fields and returns its conversation id. */
export async function createGroup() {
  const type = $("group-type").value;
  const name = $("group-name").value.trim();
  const groupId = $("group-id").value.trim() || undefined;
  const members = $("group-members").value.split(/[\s,]+/).filter(Boolean);
  const group = await state.client.groupCreate({ type, name, groupId, ...(type === "live" ? {} : { members }) });
  state.groupNames.set(group.groupId, group.name);
  return conversationFor(`GROUP${group.groupId}`).conversationId;
}

/** Enters the live room `groupId` (seats this connection) and returns its conversation id. */
export async function watchRoom(groupId) {
  await state.client.groupApply({ groupId });
  const { groups } = await state.client.groupInfo({ groupIds: [groupId] });
  if (groups[0]) state.groupNames.set(groupId, groups[0].name);
  return conversationFor(`GROUP${groupId}`).conversationId;
}

/** Learns the names of the groups in the conversation list. */
export async function loadGroupNames(groupIds) {
  const unknown = groupIds.filter((id) => !state.groupNames.has(id));
  for (let start = 0; start < unknown.length; start += 50) {
    const { groups } = await state.client.groupInfo({ groupIds: unknown.slice(start, start + 50) });
    for (const group of groups) state.groupNames.set(group.groupId, group.name);
  }
}

/** Shows the open group's members (one page), or hides the panel for anything else. */
export async function renderMembers() {
  const panel = $("members-panel");
  const conversation = state.conversations.get(state.open);
  if (conversation?.type !== "group" || state.guest) {
    panel.hidden = true;
    return;
  }
  const groupId = conversation.groupId;
  const { members } = await state.client.groupMembers({ groupId, limit: 100 });
  // Another conversation may have opened while the page was asked for.
  if (state.open !== conversation.conversationId) return;
  const list = $("members");
  list.replaceChildren();
  for (const member of members) {
    const item = element("li", { testId: "member", text: member.userId });
    if (member.role !== "member") item.append(element("small", { text: ` ${member.role}` }));
    list.append(item);
  }
  panel.hidden = false;
}
