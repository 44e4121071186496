/** The wire shapes of the Cirrus protocol (docs/protocol.md): messages, conversations, profiles, groups. */

/** A message's recipient: a user (one-to-one) or a group. */
export interface Target {
  /** `c2c` for a user, `group` for a group. */
  type: "c2c" | "group";
  /** The user or group id. */
  id: string;
}

/** A media reference: an uploaded `mediaId` or an external `url`, with optional dimensions. */
export interface Rendition {
  /** An upload of the sender's (`media.upload`). */
  mediaId?: string;
  /** An external http(s) URL, not checked by the server. */
  url?: string;
  /** Width in pixels. */
  width?: number;
  /** Height in pixels. */
  height?: number;
  /** Size in bytes. */
  size?: number;
}

/** One element of a message body. */
export type Element =
  | { type: "text"; text: string }
  | { type: "image"; format: string; original: Rendition; large?: Rendition; thumbnail?: Rendition }
  | { type: "sound"; mediaId?: string; url?: string; duration: number; size: number }
  | { type: "file"; mediaId?: string; url?: string; name: string; size: number }
  | {
      type: "video";
      mediaId?: string;
      url?: string;
      duration: number;
      size: number;
      format?: string;
      snapshot: Rendition;
    }
  | { type: "location"; latitude: number; longitude: number; desc: string }
  | { type: "face"; index: number; data?: string }
  | { type: "custom"; data: string; desc?: string; ext?: string };

/** A stored message, as delivered (`msg.new`) and as history returns it. */
export interface Message {
  /** Server-assigned id; delivery is at least once, so clients de-duplicate by it. */
  msgId: string;
  /** Position in the conversation, strictly increasing from 1. */
  seq: number;
  /** The conversation from the viewer's side (`C2C<peer>` or `GROUP<id>`). */
  conversationId: string;
  /** The sender's user id. */
  from: string;
  /** The recipient. */
  to: Target;
  /** Server acceptance time, ms since the epoch. */
  time: number;
  /** The sender's idempotency key. */
  clientMsgId: string;
  /** The elements; `[]` for a recalled message. */
  body: Element[];
  /** Opaque app data. */
  cloudCustomData?: string;
  /** The sender's nickname and avatar when sent. */
  sender?: { nickname?: string; avatar?: string };
  /** A notice from the server. */
  system?: boolean;
  /** Set on a recalled message (a tombstone). */
  recalled?: { by: string; time: number };
  /** Set on an edited message: the body is the latest version's; pass `version` to `editMessage`. */
  edited?: { by: string; time: number; version: number };
}

/** A pinned message of a conversation (`conv.pin`, `conv.pins`, the `conv.pinned` event). */
export interface Pin {
  /** The conversation from the viewer's side. */
  conversationId: string;
  /** The pinned message's seq. */
  seq: number;
  /** Who pinned it. */
  pinnedBy: string;
  /** When, ms since the epoch. */
  pinnedAt: number;
  /** The message as it is now; `null` once its roaming ended. */
  message: Message | null;
}

/** The ack of `msg.send`: the message is durable. */
export interface SendAck {
  /** The stored message's id. */
  msgId: string;
  /** Its seq. */
  seq: number;
  /** Its acceptance time. */
  time: number;
  /** The conversation from the sender's side. */
  conversationId: string;
}

/** One entry of the conversation list. */
export interface Conversation {
  /** `C2C<peer>` or `GROUP<id>`. */
  conversationId: string;
  /** `c2c` or `group`. */
  type: "c2c" | "group";
  /** The other user of a one-to-one conversation. */
  peer?: string;
  /** The group of a group conversation. */
  groupId?: string;
  /** The newest message. */
  lastMessage?: Message;
  /** The newest seq. */
  lastSeq: number;
  /** The caller's read pointer. */
  readSeq: number;
  /** `lastSeq - readSeq`. */
  unread: number;
  /** Last activity, ms. */
  updatedAt: number;
}

/** One conversation of a `msg.sync` answer. */
export interface SyncConversation {
  /** The conversation. */
  conversationId: string;
  /** Its newest seq. */
  lastSeq: number;
  /** The caller's read pointer. */
  readSeq: number;
  /** Unread count. */
  unread: number;
  /** Messages after the client's cursor (or the newest page). */
  messages: Message[];
  /** False when more lies between these and the cursor. */
  complete: boolean;
}

/** A user's presence. */
export interface Presence {
  /** The user. */
  userId: string;
  /** Whether any connection is live. */
  online: boolean;
  /** `online`, `offline` (logged in) or `logged_out`. */
  status: "online" | "offline" | "logged_out";
  /** Platforms connected from. */
  platforms: string[];
}

/** A user's profile. */
export interface Profile {
  /** The user. */
  userId: string;
  /** Display name. */
  nickname?: string;
  /** Avatar URL. */
  faceUrl?: string;
  /** `unknown`, `female` or `male`. */
  gender?: string;
  /** YYYYMMDD. */
  birthday?: number;
  /** Free text. */
  location?: string;
  /** Free text. */
  signature?: string;
  /** Who may add the user. */
  allowType?: "allow_any" | "need_confirm" | "deny_any";
  /** App fields. */
  custom?: Record<string, string>;
  /** Last change, ms. */
  updatedAt?: number;
}

/** A profile change: present fields change, `null` clears. */
export type ProfilePatch = { [K in Exclude<keyof Profile, "userId" | "updatedAt">]?: Profile[K] | null };

/** A pending friend request. */
export interface FriendRequest {
  /** Who asked. */
  from: string;
  /** Who was asked. */
  to: string;
  /** Their reason. */
  reason?: string;
  /** When, ms. */
  createdAt: number;
}

/** A friend-list entry. */
export interface Friend {
  /** The friend. */
  userId: string;
  /** The caller's remark. */
  remark?: string;
  /** The caller's groups for them. */
  groups?: string[];
  /** When added, ms. */
  addedAt: number;
  /** Their profile, with `withProfiles`. */
  profile?: Profile;
}

/** A group as shown to the caller. */
export interface Group {
  /** The id. */
  groupId: string;
  /** `private`, `public`, `chatroom` or `avchatroom`. */
  type: string;
  /** Name. */
  name: string;
  /** Introduction. */
  introduction?: string;
  /** Notice (members only). */
  notice?: string;
  /** Avatar URL. */
  avatar?: string;
  /** Owner. */
  owner?: string;
  /** Creator. */
  creator?: string;
  /** Created, ms. */
  createdAt: number;
  /** Join policy. */
  joinPolicy: string;
  /** Members. */
  memberCount: number;
  /** Cap. */
  maxMembers?: number;
  /** Whether only the owner and admins may speak. */
  muteAll?: boolean;
  /** App fields (members only). */
  custom?: Record<string, string>;
  /** The caller's role. */
  role?: string;
}

/** A group member. */
export interface Member {
  /** The user. */
  userId: string;
  /** `owner`, `admin` or `member`. */
  role: string;
  /** Joined, ms. */
  joinedAt: number;
  /** Name card. */
  nameCard?: string;
  /** Muted until, ms. */
  mutedUntil?: number;
  /** App fields. */
  custom?: Record<string, string>;
}

/** A presigned request (media upload or download). */
export interface PresignedRequest {
  /** The media id. */
  mediaId: string;
  /** Where to send the request. */
  url: string;
  /** `PUT` or `GET`. */
  method: string;
  /** Headers to send exactly. */
  headers: Record<string, string>;
  /** Expiry, ms. */
  expiresAt: number;
}

/** Which kind of media an upload is. */
export type MediaKind = "image" | "sound" | "video" | "file";

/** A paged answer's cursor. */
export interface Paged {
  /** Present when more pages follow. */
  cursor?: string;
}

/** Paging arguments. */
export interface Page {
  /** The previous page's cursor. */
  cursor?: string;
  /** Page size. */
  limit?: number;
}
