/** Every event the server pushes, with its data type, and the client's own connection events. */

import type { Message, Pin, Presence, Profile, FriendRequest } from "./types.js";

/** Data of each server event, by wire name. */
export interface ServerEvents {
  "msg.new": Message;
  "msg.read": { conversationId: string; userId: string; readSeq: number };
  "msg.recalled": { conversationId: string; msgId: string; seq: number; recalledBy: string; time: number };
  "msg.edited": Message;
  "msg.deleted": { conversationId: string; seqs: number[] };
  "conv.pinned": Pin;
  "conv.unpinned": { conversationId: string; seq: number; unpinnedBy: string; time: number };
  "msg.system": Message;
  "msg.signal": { from: string; conversationId: string; kind: string; time: number; data?: string };
  "session.kicked": { reason: string; byPlatform?: string };
  "presence.changed": Presence;
  "friend.request": FriendRequest;
  "friend.request_accepted": { userId: string };
  "friend.request_rejected": { userId: string };
  "friend.request_deleted": { userId: string };
  "friend.added": { userId: string };
  "friend.deleted": { userId: string };
  "profile.changed": Profile;
  "group.system": { type: string; groupId: string; by?: string; reason?: string };
}

/** Every server event name; the workspace test compares it with the server's list. */
export const SERVER_EVENTS = [
  "msg.new",
  "msg.read",
  "msg.recalled",
  "msg.edited",
  "msg.deleted",
  "conv.pinned",
  "conv.unpinned",
  "msg.system",
  "msg.signal",
  "session.kicked",
  "presence.changed",
  "friend.request",
  "friend.request_accepted",
  "friend.request_rejected",
  "friend.request_deleted",
  "friend.added",
  "friend.deleted",
  "profile.changed",
  "group.system",
] as const satisfies readonly (keyof ServerEvents)[];

/** Events of the client itself: its connection's state and gap fill. */
export interface ClientEvents {
  /** The socket is open (first connect or reconnect). */
  open: { reconnect: boolean };
  /** The socket closed; `willReconnect` says whether the client tries again. */
  close: { code: number; reason: string; willReconnect: boolean };
  /** A reconnect attempt is scheduled after `delayMs`. */
  reconnecting: { attempt: number; delayMs: number };
  /** Gap fill after a reconnect finished; `messages` is how many new ones it delivered. */
  synced: { messages: number };
  /** Something went wrong outside any request (a failed sync, an unreadable frame). */
  error: Error;
}

/** Every event a client emits. */
export type CirrusEvents = ServerEvents & ClientEvents;
