/** The Cirrus client: one WebSocket, request/reply by reqId, reconnect with gap fill, an outbox. */

import { ACTION_METHODS, type ActionName, type ReplyOf, type RequestOf } from "./actions.js";
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import type { Cache } from "./cache.js";
import { SeenIds } from "./dedupe.js";
import { Emitter } from "./emitter.js";
import { CirrusError, ConnectionError, TimeoutError } from "./errors.js";
import type { CirrusEvents, ServerEvents } from "./events.js";
import { byteSize, putMedia, type Progress, type UploadBody } from "./media.js";
import { Outbox } from "./outbox.js";
import type { Element, MediaKind, Message, Target } from "./types.js";

/** The part of the WHATWG WebSocket the client uses (browsers' global, or `ws` in Node). */
export interface SocketLike {
  /** 1 when open. */
  readonly readyState: number;
  /** Sends a text frame. */
  send(data: string): void;
  /** Closes the socket. */
  close(code?: number, reason?: string): void;
  /** Open handler. */
  onopen: ((event: unknown) => void) | null;
  /** Frame handler. */
  onmessage: ((event: { data: unknown }) => void) | null;
  /** Close handler. */
  onclose: ((event: { code: number; reason: string }) => void) | null;
  /** Error handler. */
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket constructor: `globalThis.WebSocket` or `ws`'s default export. */
export type SocketConstructor = new (url: string) => SocketLike;

/** How a client connects and behaves. */
export interface ClientOptions {
  /** The WebSocket API, e.g. `ws://127.0.0.1:8080` (no query). */
  url: string;
  /** The UserSig, or a function giving a fresh one at each (re)connect. */
  token: string | (() => string | Promise<string>);
  /** The platform reported to presence (`web` by default). */
  platform?: string;
  /** The WebSocket implementation; the global one by default (Node 20 has none: pass `ws`). */
  WebSocket?: SocketConstructor;
  /** How long a request waits for its reply, ms (default 10,000). */
  requestTimeoutMs?: number;
  /** How long a `msg.send` may stay unacknowledged across reconnects before it fails, ms (default 120,000). */
  sendTimeoutMs?: number;
  /** Reconnect delays. */
  backoff?: BackoffOptions;
  /** Whether to reconnect after a drop (default true). */
  reconnect?: boolean;
  /** `sys.ping` interval, ms, to stay under the 10-minute idle limit (default 300,000; 0 turns it off). */
  pingIntervalMs?: number;
  /** Messages per conversation per `msg.sync` page (default 100). */
  syncLimit?: number;
  /** Where to keep conversations and messages seen (none by default; see `defaultCache`). */
  cache?: Cache;
}

interface PendingRequest {
  action: string;
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

type ReplyFrame = {
  type: "reply";
  reqId: string;
  ok: boolean;
  data?: unknown;
  error?: { code: string; message: string; retryAfterMs?: number };
};
type EventFrame = { type: "event"; event: string; data: unknown };

// Session ends after which the same token is refused: reconnecting would only be refused again.
const FINAL_KICKS = new Set(["logged_out", "kicked_by_admin", "password_changed", "account_deleted"]);

let clientMsgCounter = 0;

/** A fresh clientMsgId: random, so two tabs or two runs never collide. */
export function newClientMsgId(): string {
  clientMsgCounter += 1;
  const random = Math.random().toString(36).slice(2, 12);
  return `web-${Date.now().toString(36)}-${random}-${clientMsgCounter}`;
}

/** The conversation id of a target from the sender's side. */
export function conversationOf(target: Target): string {
  return target.type === "c2c" ? `C2C${target.id}` : `GROUP${target.id}`;
}

/** A connected Cirrus client. Create it with {@link connect}. */
export class CirrusClient extends Emitter<CirrusEvents> {
  private socket: SocketLike | null = null;
  private readonly pending = new Map<string, PendingRequest>();
  private readonly outbox = new Outbox();
  private readonly seen = new SeenIds();
  /** The highest seq held per conversation: the msg.sync cursors. */
  private readonly lastSeq = new Map<string, number>();
  private nextReq = 0;
  private attempt = 0;
  private closed = false;
  private everOpened = false;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private waitingForOpen: (() => void)[] = [];
  /** Server time of the first connection: a sync's unnamed conversations are new after it. */
  private since = 0;

  /** Use {@link connect}. */
  constructor(private readonly options: ClientOptions) {
    super();
  }

  /** Whether the socket is open now. */
  get connected(): boolean {
    return this.socket?.readyState === 1;
  }

  /** Sends not yet acknowledged. */
  get unacknowledged(): number {
    return this.outbox.size;
  }

  /** The highest seq the client holds of `conversationId`. */
  seqOf(conversationId: string): number | undefined {
    return this.lastSeq.get(conversationId);
  }

  /** Opens the first connection; rejects if it fails. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      void this.open((error) => (error ? reject(error) : resolve()));
    });
    this.since = (await this.ping()).time;
  }

  private async open(first?: (error?: Error) => void): Promise<void> {
    const Socket = this.options.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    if (!Socket) {
      first?.(new ConnectionError("no WebSocket implementation: pass options.WebSocket (e.g. ws)"));
      return;
    }
    let token: string;
    try {
      token = typeof this.options.token === "function" ? await this.options.token() : this.options.token;
    } catch (error) {
      first?.(error as Error);
      if (!first) this.scheduleReconnect();
      return;
    }
    if (this.closed) return;
    const query = new URLSearchParams({ token, platform: this.options.platform ?? "web" });
    const socket = new Socket(`${this.options.url.replace(/\/$/, "")}/?${query}`);
    this.socket = socket;
    let refused = false;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      const reconnect = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.startPing();
      first?.();
      this.emit("open", { reconnect });
      for (const wake of this.waitingForOpen.splice(0)) wake();
      this.resendOutbox();
      if (reconnect) void this.fillGap();
    };
    socket.onmessage = (event) => this.dispatch(String(event.data));
    socket.onerror = (event) => {
      // `ws` names the refused upgrade's status in its error; a browser tells nothing.
      const message = String((event as { message?: string }).message ?? "");
      if (/Unexpected server response: (400|401|403)/.test(message)) refused = true;
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.stopPing();
      this.failPending(new ConnectionError(`connection closed (${event.code})`));
      if (!opened && first) {
        first(new ConnectionError(refused ? "the server refused the token" : `could not connect (${event.code})`));
        return;
      }
      const willReconnect = !this.closed && !refused && this.options.reconnect !== false;
      if (opened) this.emit("close", { code: event.code, reason: event.reason, willReconnect });
      if (willReconnect) this.scheduleReconnect();
      else {
        this.closed = true;
        if (!opened) this.emit("close", { code: event.code, reason: event.reason, willReconnect });
        this.failOutbox(new ConnectionError("connection closed for good"));
      }
    };
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delayMs = backoffDelay(this.attempt, this.options.backoff);
    this.attempt += 1;
    this.emit("reconnecting", { attempt: this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closed) void this.open();
    }, delayMs);
  }

  private startPing(): void {
    const interval = this.options.pingIntervalMs ?? 300_000;
    if (interval > 0) {
      this.pingTimer = setInterval(() => void this.ping().catch(() => undefined), interval);
    }
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private failPending(error: Error): void {
    for (const [reqId, request] of this.pending) {
      clearTimeout(request.timer);
      this.pending.delete(reqId);
      request.reject(error);
    }
  }

  private failOutbox(error: Error): void {
    for (const send of this.outbox.all()) {
      this.outbox.take(send.data.clientMsgId);
      send.reject(error);
    }
  }

  private dispatch(text: string): void {
    let frame: ReplyFrame | EventFrame;
    try {
      frame = JSON.parse(text);
    } catch {
      this.emit("error", new Error("an unreadable frame from the server"));
      return;
    }
    if (frame.type === "reply") {
      const request = this.pending.get(frame.reqId);
      if (!request) return;
      this.pending.delete(frame.reqId);
      clearTimeout(request.timer);
      if (frame.ok) request.resolve(frame.data ?? {});
      else {
        const error = frame.error ?? { code: "internal", message: "an error reply without error" };
        request.reject(new CirrusError(error.code, error.message, error.retryAfterMs));
      }
    } else if (frame.type === "event") {
      this.onEvent(frame.event as keyof ServerEvents, frame.data);
    }
  }

  private onEvent(event: keyof ServerEvents, data: unknown): void {
    if (event === "msg.new" || event === "msg.system") {
      const message = data as Message;
      if (!this.seen.add(message.msgId)) return;
      this.noteLive(message);
      void this.options.cache?.putMessages([message]);
    }
    if (event === "session.kicked") {
      const reason = (data as ServerEvents["session.kicked"]).reason;
      // Reconnecting after any kick would displace the other login, or be refused: stop.
      if (FINAL_KICKS.has(reason) || reason === "login_elsewhere") this.closed = true;
    }
    this.emit(event, data as never);
  }

  /** Advances a cursor only without a gap, so a later sync still fetches what is missing. */
  private noteLive(message: Message): void {
    const held = this.lastSeq.get(message.conversationId);
    if (held === undefined || message.seq === held + 1) this.lastSeq.set(message.conversationId, message.seq);
  }

  private waitOpen(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => this.waitingForOpen.push(resolve));
  }

  /**
   * Sends `action` and resolves with its reply's data; rejects with a {@link CirrusError} carrying
   * the server's code, a {@link TimeoutError}, or a {@link ConnectionError} when the socket drops
   * first (the request may or may not have been served). While disconnected it waits for the
   * reconnect, within the same timeout.
   */
  async request<A extends ActionName>(action: A, data?: RequestOf<A>, timeoutMs?: number): Promise<ReplyOf<A>> {
    if (this.closed) throw new ConnectionError("the client is closed");
    const ms = timeoutMs ?? this.options.requestTimeoutMs ?? 10_000;
    const deadline = Date.now() + ms;
    if (!this.connected) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(action, ms)), ms);
      });
      try {
        await Promise.race([this.waitOpen(), timedOut]);
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exchange(action, data, Math.max(1, deadline - Date.now()), ms) as Promise<ReplyOf<A>>;
  }

  private exchange(action: string, data: unknown, remainingMs: number, fullMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const socket = this.socket;
      if (!socket || socket.readyState !== 1) {
        reject(new ConnectionError("not connected"));
        return;
      }
      this.nextReq += 1;
      const reqId = `r${this.nextReq}`;
      const timer = setTimeout(() => {
        this.pending.delete(reqId);
        reject(new TimeoutError(action, fullMs));
      }, remainingMs);
      this.pending.set(reqId, { action, resolve, reject, timer });
      socket.send(JSON.stringify(data === undefined ? { action, reqId } : { action, reqId, data }));
    });
  }

  /**
   * Sends a message through the outbox: if the connection drops before the ack, it is resent after
   * the reconnect with the same clientMsgId, and the server answers the resend with the first ack.
   */
  sendMessage(
    to: Target,
    body: Element[],
    extra: { clientMsgId?: string; cloudCustomData?: string } = {},
  ): Promise<ReplyOf<"msg.send">> {
    if (this.closed) return Promise.reject(new ConnectionError("the client is closed"));
    const data: RequestOf<"msg.send"> = { to, clientMsgId: extra.clientMsgId ?? newClientMsgId(), body };
    if (extra.cloudCustomData !== undefined) data.cloudCustomData = extra.cloudCustomData;
    return new Promise((resolve, reject) => {
      const timeoutMs = this.options.sendTimeoutMs ?? 120_000;
      const timer = setTimeout(() => {
        if (this.outbox.take(data.clientMsgId)) reject(new TimeoutError("msg.send", timeoutMs));
      }, timeoutMs);
      this.outbox.add({
        data,
        attempts: 0,
        resolve: (ack) => {
          clearTimeout(timer);
          resolve(ack);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      if (this.connected) this.transmit(data.clientMsgId);
    });
  }

  /** Sends a text message to a user. */
  sendText(userId: string, text: string): Promise<ReplyOf<"msg.send">> {
    return this.sendMessage({ type: "c2c", id: userId }, [{ type: "text", text }]);
  }

  private resendOutbox(): void {
    for (const send of this.outbox.all()) this.transmit(send.data.clientMsgId);
  }

  private transmit(clientMsgId: string): void {
    const send = this.outbox.take(clientMsgId);
    if (!send) return;
    this.outbox.add(send);
    send.attempts += 1;
    const timeoutMs = this.options.requestTimeoutMs ?? 10_000;
    this.exchange("msg.send", send.data, timeoutMs, timeoutMs).then(
      (reply) => {
        const ack = reply as ReplyOf<"msg.send">;
        if (!this.outbox.take(clientMsgId)) return;
        this.seen.add(ack.msgId);
        const held = this.lastSeq.get(ack.conversationId);
        if (held === undefined || ack.seq === held + 1) this.lastSeq.set(ack.conversationId, ack.seq);
        send.resolve(ack);
      },
      (error: Error) => {
        // A drop or a silent server leaves the send in the outbox for the next connection.
        if (error instanceof ConnectionError || error instanceof TimeoutError) return;
        if (this.outbox.take(clientMsgId)) send.reject(error);
      },
    );
  }

  /**
   * Gap fill: `msg.sync` from the highest seq held of each conversation, then `msg.history`
   * pages where a conversation is not complete; every message not seen yet is emitted as
   * `msg.new` (or `msg.system`), once.
   */
  async fillGap(): Promise<number> {
    let delivered = 0;
    try {
      const cursors = [...this.lastSeq].map(([conversationId, seq]) => ({ conversationId, seq }));
      const limit = this.options.syncLimit ?? 100;
      const { conversations } = await this.request("msg.sync", { cursors, limit });
      for (const conversation of conversations) {
        const named = this.lastSeq.has(conversation.conversationId);
        // An unnamed conversation comes as its newest page: only what is newer than this client is news.
        let messages = named ? conversation.messages : conversation.messages.filter((m) => m.time >= this.since);
        let complete = conversation.complete || !named;
        for (;;) {
          delivered += this.deliverSynced(messages);
          if (complete || messages.length === 0) break;
          const afterSeq = messages[messages.length - 1]!.seq;
          const page = await this.request("msg.history", {
            conversationId: conversation.conversationId,
            afterSeq,
            limit,
          });
          messages = page.messages;
          complete = page.complete;
        }
      }
      this.emit("synced", { messages: delivered });
    } catch (error) {
      // A drop during the sync is followed by another reconnect, which syncs again.
      if (!(error instanceof ConnectionError)) this.emit("error", error as Error);
    }
    return delivered;
  }

  private deliverSynced(messages: Message[]): number {
    let delivered = 0;
    for (const message of messages) {
      const held = this.lastSeq.get(message.conversationId) ?? 0;
      if (message.seq > held) this.lastSeq.set(message.conversationId, message.seq);
      if (!this.seen.add(message.msgId)) continue;
      delivered += 1;
      void this.options.cache?.putMessages([message]);
      this.emit(message.system ? "msg.system" : "msg.new", message);
    }
    return delivered;
  }

  /** Closes the connection for good: no reconnect; requests and unacknowledged sends fail. */
  close(): void {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.stopPing();
    const socket = this.socket;
    this.socket = null;
    this.failPending(new ConnectionError("the client is closed"));
    this.failOutbox(new ConnectionError("the client is closed"));
    socket?.close(1000, "bye");
  }

  /** Uploads media: asks for a presigned URL, PUTs the bytes with progress; resolves with the mediaId. */
  async uploadMedia(
    body: UploadBody,
    options: { kind: MediaKind; contentType: string; onProgress?: Progress },
  ): Promise<string> {
    const presigned = await this.mediaUpload({ kind: options.kind, contentType: options.contentType, size: byteSize(body) });
    await putMedia(presigned, body, options.onProgress);
    return presigned.mediaId;
  }

  /** Remembers messages read by history so the sync cursors follow them. */
  private noteHistory(messages: Message[]): void {
    for (const message of messages) {
      this.seen.add(message.msgId);
      const held = this.lastSeq.get(message.conversationId);
      if (held === undefined || message.seq > held) this.lastSeq.set(message.conversationId, message.seq);
    }
    void this.options.cache?.putMessages(messages);
  }

  /** `msg.history`: a page of a conversation, ascending by seq. */
  async history(data: RequestOf<"msg.history">): Promise<ReplyOf<"msg.history">> {
    const page = await this.request("msg.history", data);
    const held = this.lastSeq.get(data.conversationId) ?? 0;
    // The newest page, or a page right after what is held, moves the sync cursor; an older page
    // only counts its messages as seen.
    const reachesNewest =
      data.beforeSeq === undefined && (data.afterSeq === undefined || (data.afterSeq <= held && page.complete));
    if (reachesNewest) this.noteHistory(page.messages);
    else for (const message of page.messages) this.seen.add(message.msgId);
    return page;
  }
  /** `msg.recall`: recall a message. */
  recall(data: RequestOf<"msg.recall">) {
    return this.request("msg.recall", data);
  }
  /**
   * `msg.edit`: replace the body of one of the caller's messages. `version` is the one being
   * edited (`message.edited?.version ?? 0`); a stale one fails with `stale_version`.
   */
  editMessage(data: RequestOf<"msg.edit">) {
    return this.request("msg.edit", data);
  }
  /** `msg.delete`: delete messages for the caller. */
  deleteMessages(data: RequestOf<"msg.delete">) {
    return this.request("msg.delete", data);
  }
  /** `msg.sync`: the raw sync call (the client runs gap fill on its own after a reconnect). */
  sync(data: RequestOf<"msg.sync">) {
    return this.request("msg.sync", data);
  }
  /** `msg.signal`: an online-only signal (`typing`). */
  signal(data: RequestOf<"msg.signal">) {
    return this.request("msg.signal", data);
  }
  /** `media.upload`: a presigned upload URL (see {@link uploadMedia}). */
  mediaUpload(data: RequestOf<"media.upload">) {
    return this.request("media.upload", data);
  }
  /** `media.download`: a presigned download URL. */
  mediaDownload(data: RequestOf<"media.download">) {
    return this.request("media.download", data);
  }
  /** `conv.list`: the conversation list (also written to the cache). */
  async convList(data: RequestOf<"conv.list"> = {}) {
    const page = await this.request("conv.list", data);
    void this.options.cache?.putConversations(page.conversations);
    return page;
  }
  /** `conv.read`: move the read pointer. */
  markRead(data: RequestOf<"conv.read">) {
    return this.request("conv.read", data);
  }
  /** `conv.delete`: remove a conversation from the list. */
  convDelete(data: RequestOf<"conv.delete">) {
    return this.request("conv.delete", data);
  }
  /** `conv.pin`: pin a message for everyone in the conversation (a group's owner and admins). */
  pinMessage(data: RequestOf<"conv.pin">) {
    return this.request("conv.pin", data);
  }
  /** `conv.unpin`: unpin a message; `removed` says whether it was pinned. */
  unpinMessage(data: RequestOf<"conv.unpin">) {
    return this.request("conv.unpin", data);
  }
  /** `conv.pins`: the conversation's pinned messages, newest pin first. */
  pins(data: RequestOf<"conv.pins">) {
    return this.request("conv.pins", data);
  }
  /** `sys.ping`: heartbeat and server time. */
  ping() {
    return this.request("sys.ping");
  }
  /** `presence.get`. */
  presenceGet(data: RequestOf<"presence.get">) {
    return this.request("presence.get", data);
  }
  /** `auth.logout`: end every session of the user; this client closes. */
  async logout() {
    const reply = await this.request("auth.logout");
    this.close();
    return reply;
  }
  /** `push.register`: remember this device's push token for offline push. */
  registerPush(data: RequestOf<"push.register">) {
    return this.request("push.register", data);
  }
  /** `push.unregister`: forget a push token. */
  unregisterPush(data: RequestOf<"push.unregister">) {
    return this.request("push.unregister", data);
  }
  /** `presence.subscribe`. */
  presenceSubscribe(data: RequestOf<"presence.subscribe">) {
    return this.request("presence.subscribe", data);
  }
  /** `presence.unsubscribe`. */
  presenceUnsubscribe(data: RequestOf<"presence.unsubscribe">) {
    return this.request("presence.unsubscribe", data);
  }
  /** `profile.get`. */
  profileGet(data: RequestOf<"profile.get"> = {}) {
    return this.request("profile.get", data);
  }
  /** `profile.set`. */
  profileSet(data: RequestOf<"profile.set">) {
    return this.request("profile.set", data);
  }
  /** `user.search`. */
  userSearch(data: RequestOf<"user.search">) {
    return this.request("user.search", data);
  }
  /** `friend.add`. */
  friendAdd(data: RequestOf<"friend.add">) {
    return this.request("friend.add", data);
  }
  /** `friend.requests`. */
  friendRequests(data: RequestOf<"friend.requests">) {
    return this.request("friend.requests", data);
  }
  /** `friend.accept`. */
  friendAccept(data: RequestOf<"friend.accept">) {
    return this.request("friend.accept", data);
  }
  /** `friend.reject`. */
  friendReject(data: RequestOf<"friend.reject">) {
    return this.request("friend.reject", data);
  }
  /** `friend.withdraw`. */
  friendWithdraw(data: RequestOf<"friend.withdraw">) {
    return this.request("friend.withdraw", data);
  }
  /** `friend.delete`. */
  friendDelete(data: RequestOf<"friend.delete">) {
    return this.request("friend.delete", data);
  }
  /** `friend.list`. */
  friendList(data: RequestOf<"friend.list"> = {}) {
    return this.request("friend.list", data);
  }
  /** `friend.check`. */
  friendCheck(data: RequestOf<"friend.check">) {
    return this.request("friend.check", data);
  }
  /** `friend.remark`. */
  friendRemark(data: RequestOf<"friend.remark">) {
    return this.request("friend.remark", data);
  }
  /** `friend.recommendations`. */
  friendRecommendations(data: RequestOf<"friend.recommendations"> = {}) {
    return this.request("friend.recommendations", data);
  }
  /** `friend.dismiss`. */
  friendDismiss(data: RequestOf<"friend.dismiss">) {
    return this.request("friend.dismiss", data);
  }
  /** `block.add`. */
  blockAdd(data: RequestOf<"block.add">) {
    return this.request("block.add", data);
  }
  /** `block.remove`. */
  blockRemove(data: RequestOf<"block.remove">) {
    return this.request("block.remove", data);
  }
  /** `block.list`. */
  blockList(data: RequestOf<"block.list"> = {}) {
    return this.request("block.list", data);
  }
  /** `block.check`. */
  blockCheck(data: RequestOf<"block.check">) {
    return this.request("block.check", data);
  }
  /** `notify.list`. */
  notifyList(data: RequestOf<"notify.list"> = {}) {
    return this.request("notify.list", data);
  }
  /** `group.create`. */
  groupCreate(data: RequestOf<"group.create">) {
    return this.request("group.create", data);
  }
  /** `group.dismiss`. */
  groupDismiss(data: RequestOf<"group.dismiss">) {
    return this.request("group.dismiss", data);
  }
  /** `group.info`. */
  groupInfo(data: RequestOf<"group.info">) {
    return this.request("group.info", data);
  }
  /** `group.update`. */
  groupUpdate(data: RequestOf<"group.update">) {
    return this.request("group.update", data);
  }
  /** `group.transfer`. */
  groupTransfer(data: RequestOf<"group.transfer">) {
    return this.request("group.transfer", data);
  }
  /** `group.members`. */
  groupMembers(data: RequestOf<"group.members">) {
    return this.request("group.members", data);
  }
  /** `group.joined`. */
  groupJoined(data: RequestOf<"group.joined"> = {}) {
    return this.request("group.joined", data);
  }
  /** `group.search`. */
  groupSearch(data: RequestOf<"group.search">) {
    return this.request("group.search", data);
  }
  /** `group.invite`. */
  groupInvite(data: RequestOf<"group.invite">) {
    return this.request("group.invite", data);
  }
  /** `group.apply` (also how anyone, a guest too, enters a live room). */
  groupApply(data: RequestOf<"group.apply">) {
    return this.request("group.apply", data);
  }
  /** `group.requests`. */
  groupRequests(data: RequestOf<"group.requests">) {
    return this.request("group.requests", data);
  }
  /** `group.respond`. */
  groupRespond(data: RequestOf<"group.respond">) {
    return this.request("group.respond", data);
  }
  /** `group.quit`. */
  groupQuit(data: RequestOf<"group.quit">) {
    return this.request("group.quit", data);
  }
  /** `group.kick`. */
  groupKick(data: RequestOf<"group.kick">) {
    return this.request("group.kick", data);
  }
  /** `group.set_role`. */
  groupSetRole(data: RequestOf<"group.set_role">) {
    return this.request("group.set_role", data);
  }
  /** `group.mute`. */
  groupMute(data: RequestOf<"group.mute">) {
    return this.request("group.mute", data);
  }
  /** `group.mute_all`. */
  groupMuteAll(data: RequestOf<"group.mute_all">) {
    return this.request("group.mute_all", data);
  }
  /** `group.member_update`. */
  groupMemberUpdate(data: RequestOf<"group.member_update">) {
    return this.request("group.member_update", data);
  }
}

// Every action's method must exist on the client: a compile error names the missing one.
type MethodNames = (typeof ACTION_METHODS)[ActionName];
const _everyActionHasAMethod: Record<MethodNames, unknown> = CirrusClient.prototype satisfies Record<
  MethodNames,
  (...args: never[]) => unknown
>;
void _everyActionHasAMethod;

/** Connects a client; resolves once the first connection is open. */
export async function connect(options: ClientOptions): Promise<CirrusClient> {
  const client = new CirrusClient(options);
  await client.start();
  return client;
}
