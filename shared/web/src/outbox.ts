/** Sends not yet acknowledged, kept across reconnects and resent with their clientMsgId. */

import type { RequestOf, ReplyOf } from "./actions.js";

/** One `msg.send` waiting for its ack. */
export interface PendingSend {
  /** The request data, resent unchanged (same clientMsgId) after a reconnect. */
  data: RequestOf<"msg.send">;
  /** Settles the caller's promise with the ack. */
  resolve: (ack: ReplyOf<"msg.send">) => void;
  /** Settles it with a failure. */
  reject: (error: Error) => void;
  /** How many times it went out. */
  attempts: number;
}

/** The sends in flight, by clientMsgId, in the order they were made. */
export class Outbox {
  private readonly pending = new Map<string, PendingSend>();

  /** Adds a send. */
  add(send: PendingSend): void {
    this.pending.set(send.data.clientMsgId, send);
  }

  /** Removes and returns the send with `clientMsgId`. */
  take(clientMsgId: string): PendingSend | undefined {
    const send = this.pending.get(clientMsgId);
    this.pending.delete(clientMsgId);
    return send;
  }

  /** Every pending send, oldest first. */
  all(): PendingSend[] {
    return [...this.pending.values()];
  }

  /** How many sends wait for an ack. */
  get size(): number {
    return this.pending.size;
  }
}
