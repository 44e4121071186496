/** The errors a request can end with. */

/** The server refused a request: `code` is its stable error code (docs/protocol.md#error-codes). */
export class CirrusError extends Error {
  /** The stable error code, e.g. `not_found`, `rate_limited`. */
  readonly code: string;
  /** With `rate_limited`: how long to wait before the same request is accepted. */
  readonly retryAfterMs?: number;

  /** An error reply of the server. */
  constructor(code: string, message: string, retryAfterMs?: number) {
    super(message);
    this.name = "CirrusError";
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

/** No reply came within the request's timeout. */
export class TimeoutError extends Error {
  /** The action that timed out. */
  readonly action: string;

  /** A timeout of `action` after `ms`. */
  constructor(action: string, ms: number) {
    super(`${action}: no reply within ${ms} ms`);
    this.name = "TimeoutError";
    this.action = action;
  }
}

/** The connection closed before the reply came, or the client was closed. */
export class ConnectionError extends Error {
  /** A connection failure. */
  constructor(message: string) {
    super(message);
    this.name = "ConnectionError";
  }
}
