/** Every action of the protocol: its request and reply types, and the client method serving it. */

import type {
  Conversation,
  Element,
  Friend,
  FriendRequest,
  Group,
  MediaKind,
  Member,
  Message,
  Page,
  Paged,
  Pin,
  Presence,
  PresignedRequest,
  Profile,
  ProfilePatch,
  SendAck,
  SyncConversation,
  Target,
} from "./types.js";

type Users = { userIds: string[] };
type UserId = { userId: string };
type GroupId = { groupId: string };
type Empty = Record<string, never>;
type PresenceReply = { users: Presence[]; subscriptions: number };

/** Request and reply data of each action, by wire name. */
export interface ActionTypes {
  "msg.send": [{ to: Target; clientMsgId: string; body: Element[]; cloudCustomData?: string }, SendAck];
  "msg.history": [
    { conversationId: string; beforeSeq?: number; afterSeq?: number; limit?: number },
    { messages: Message[]; complete: boolean },
  ];
  "msg.recall": [
    { conversationId: string; seq: number },
    { conversationId: string; msgId: string; seq: number; recalledBy: string; time: number },
  ];
  "msg.edit": [
    { conversationId: string; seq: number; version?: number; body: Element[]; cloudCustomData?: string },
    Message,
  ];
  "msg.delete": [{ conversationId: string; seqs: number[] }, { conversationId: string; seqs: number[] }];
  "msg.sync": [
    { cursors: { conversationId: string; seq: number }[]; limit?: number },
    { conversations: SyncConversation[] },
  ];
  "msg.signal": [{ to: Target; kind: string; data?: string }, Empty];
  "media.upload": [{ kind: MediaKind; contentType: string; size: number }, PresignedRequest];
  "media.download": [
    { mediaId: string; rendition?: "original" | "large" | "thumbnail" },
    PresignedRequest & { rendition: string; contentType: string; size: number; width?: number; height?: number },
  ];
  "conv.list": [Page, { conversations: Conversation[] } & Paged];
  "conv.read": [{ conversationId: string; seq: number }, Empty];
  "conv.delete": [{ conversationId: string }, Empty];
  "conv.pin": [{ conversationId: string; seq: number }, Pin];
  "conv.unpin": [{ conversationId: string; seq: number }, { removed: boolean }];
  "conv.pins": [{ conversationId: string }, { pins: Pin[] }];
  "sys.ping": [Empty, { time: number }];
  "presence.get": [Users, { users: Presence[] }];
  "auth.logout": [Empty, Empty];
  "push.register": [
    { provider: "apns" | "fcm" | "webhook"; token: string; platform: string; bundleId?: string },
    Empty,
  ];
  "push.unregister": [{ token: string }, { removed: boolean }];
  "presence.subscribe": [Users, PresenceReply];
  "presence.unsubscribe": [Users, PresenceReply];
  "profile.get": [Partial<Users>, { profiles: Profile[]; notFound?: string[] }];
  "profile.set": [ProfilePatch, Profile];
  "user.search": [{ userId?: string; nickname?: string; limit?: number }, { users: Profile[] }];
  "friend.add": [
    { userId: string; reason?: string; remark?: string; groups?: string[] },
    { result: "added" | "pending" },
  ];
  "friend.requests": [{ direction: "incoming" | "outgoing" } & Page, { requests: FriendRequest[] } & Paged];
  "friend.accept": [UserId & { remark?: string }, Empty];
  "friend.reject": [UserId, Empty];
  "friend.withdraw": [UserId, Empty];
  "friend.delete": [Users & { both?: boolean }, { results: { userId: string; deleted: boolean }[] }];
  "friend.list": [Page & { withProfiles?: boolean }, { friends: Friend[] } & Paged];
  "friend.check": [Users, { relations: { userId: string; relation: string }[] }];
  "friend.remark": [UserId & { remark?: string | null; groups?: string[] }, Friend];
  "friend.recommendations": [
    Page,
    { recommendations: { userId: string; reason?: string; addedAt: number }[] } & Paged,
  ];
  "friend.dismiss": [Users, Empty];
  "block.add": [Users, { blocked: { userId: string; blockedAt: number }[] }];
  "block.remove": [Users, { results: { userId: string; removed: boolean }[] }];
  "block.list": [Page, { blocked: { userId: string; blockedAt: number }[] } & Paged];
  "block.check": [Users, { results: { userId: string; blocked: boolean }[] }];
  "notify.list": [
    { after?: string; limit?: number },
    { notifications: { id: string; event: string; time: number; data: unknown }[] } & Paged,
  ];
  "group.create": [
    {
      type: string;
      groupId?: string;
      name: string;
      introduction?: string;
      notice?: string;
      avatar?: string;
      joinPolicy?: string;
      maxMembers?: number;
      members?: string[];
      custom?: Record<string, string>;
    },
    Group,
  ];
  "group.dismiss": [GroupId, Empty];
  "group.info": [{ groupIds: string[] }, { groups: Group[] }];
  "group.update": [
    GroupId & {
      name?: string;
      introduction?: string | null;
      notice?: string | null;
      avatar?: string | null;
      joinPolicy?: string;
      custom?: Record<string, string>;
    },
    Group,
  ];
  "group.transfer": [GroupId & UserId, Empty];
  "group.members": [GroupId & Page, { members: Member[] } & Paged];
  "group.joined": [Page, { groups: Group[] } & Paged];
  "group.search": [{ groupId?: string; name?: string; limit?: number }, { groups: Group[] }];
  "group.invite": [GroupId & Users & { reason?: string }, { results: { userId: string; result: string }[] }];
  "group.apply": [GroupId & { reason?: string }, { result: string }];
  "group.requests": [
    GroupId & Page,
    {
      requests: { groupId: string; userId: string; kind: string; by: string; reason?: string; createdAt: number }[];
    } & Paged,
  ];
  "group.respond": [GroupId & UserId & { accept: boolean; reason?: string }, Empty];
  "group.quit": [GroupId, Empty];
  "group.kick": [GroupId & Users & { reason?: string }, { removed: string[] }];
  "group.set_role": [GroupId & UserId & { role: "admin" | "member" }, Empty];
  "group.mute": [GroupId & UserId & { seconds: number }, { mutedUntil: number }];
  "group.mute_all": [GroupId & { muted: boolean }, Empty];
  "group.member_update": [
    GroupId & { userId?: string; nameCard?: string | null; custom?: Record<string, string> },
    Member,
  ];
}

/** A wire name of an action. */
export type ActionName = keyof ActionTypes;
/** The request data of an action. */
export type RequestOf<A extends ActionName> = ActionTypes[A][0];
/** The reply data of an action. */
export type ReplyOf<A extends ActionName> = ActionTypes[A][1];

/**
 * The client method for each action. The server's action list is compared with this table's keys
 * by a workspace test (shared/core/tests/web_sdk_actions.rs), and the methods' existence by the
 * SDK's own unit tests, so an action without SDK support fails the build.
 */
export const ACTION_METHODS = {
  "msg.send": "sendMessage",
  "msg.history": "history",
  "msg.recall": "recall",
  "msg.edit": "editMessage",
  "msg.delete": "deleteMessages",
  "msg.sync": "sync",
  "msg.signal": "signal",
  "media.upload": "mediaUpload",
  "media.download": "mediaDownload",
  "conv.list": "convList",
  "conv.read": "markRead",
  "conv.delete": "convDelete",
  "conv.pin": "pinMessage",
  "conv.unpin": "unpinMessage",
  "conv.pins": "pins",
  "sys.ping": "ping",
  "presence.get": "presenceGet",
  "auth.logout": "logout",
  "push.register": "registerPush",
  "push.unregister": "unregisterPush",
  "presence.subscribe": "presenceSubscribe",
  "presence.unsubscribe": "presenceUnsubscribe",
  "profile.get": "profileGet",
  "profile.set": "profileSet",
  "user.search": "userSearch",
  "friend.add": "friendAdd",
  "friend.requests": "friendRequests",
  "friend.accept": "friendAccept",
  "friend.reject": "friendReject",
  "friend.withdraw": "friendWithdraw",
  "friend.delete": "friendDelete",
  "friend.list": "friendList",
  "friend.check": "friendCheck",
  "friend.remark": "friendRemark",
  "friend.recommendations": "friendRecommendations",
  "friend.dismiss": "friendDismiss",
  "block.add": "blockAdd",
  "block.remove": "blockRemove",
  "block.list": "blockList",
  "block.check": "blockCheck",
  "notify.list": "notifyList",
  "group.create": "groupCreate",
  "group.dismiss": "groupDismiss",
  "group.info": "groupInfo",
  "group.update": "groupUpdate",
  "group.transfer": "groupTransfer",
  "group.members": "groupMembers",
  "group.joined": "groupJoined",
  "group.search": "groupSearch",
  "group.invite": "groupInvite",
  "group.apply": "groupApply",
  "group.requests": "groupRequests",
  "group.respond": "groupRespond",
  "group.quit": "groupQuit",
  "group.kick": "groupKick",
  "group.set_role": "groupSetRole",
  "group.mute": "groupMute",
  "group.mute_all": "groupMuteAll",
  "group.member_update": "groupMemberUpdate",
} as const satisfies Record<ActionName, string>;
