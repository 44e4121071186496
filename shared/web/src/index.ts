/** `@cirrus-im/sdk`: the Cirrus instant-messaging client for browsers and Node. */

export { connect, CirrusClient, conversationOf, newClientMsgId } from "./client.js";
export type { ClientOptions, SocketConstructor, SocketLike } from "./client.js";
export { ACTION_METHODS } from "./actions.js";
export type { ActionName, ActionTypes, ReplyOf, RequestOf } from "./actions.js";
export { SERVER_EVENTS } from "./events.js";
export type { CirrusEvents, ClientEvents, ServerEvents } from "./events.js";
export { CirrusError, ConnectionError, TimeoutError } from "./errors.js";
export { backoffDelay } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { SeenIds } from "./dedupe.js";
export { MemoryCache, IndexedDbCache, defaultCache } from "./cache.js";
export type { Cache } from "./cache.js";
export { putMedia } from "./media.js";
export type { Progress, UploadBody } from "./media.js";
export { Emitter } from "./emitter.js";
export type * from "./types.js";
