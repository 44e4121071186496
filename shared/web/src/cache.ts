/** An optional local cache of conversations and messages: in memory, or IndexedDB in browsers. */

import type { Conversation, Message } from "./types.js";

/** Where the client keeps conversations and messages it has seen. */
export interface Cache {
  /** Stores messages (replacing ones with the same conversation and seq). */
  putMessages(messages: Message[]): Promise<void>;
  /** The cached messages of a conversation, ascending by seq. */
  messages(conversationId: string): Promise<Message[]>;
  /** Stores conversation-list entries. */
  putConversations(conversations: Conversation[]): Promise<void>;
  /** The cached conversation list, most recently active first. */
  conversations(): Promise<Conversation[]>;
}

/** A cache in memory: what Node and tests use. */
export class MemoryCache implements Cache {
  private readonly byConversation = new Map<string, Map<number, Message>>();
  private readonly conversationList = new Map<string, Conversation>();

  /** Stores messages. */
  async putMessages(messages: Message[]): Promise<void> {
    for (const message of messages) {
      let seqs = this.byConversation.get(message.conversationId);
      if (!seqs) {
        seqs = new Map();
        this.byConversation.set(message.conversationId, seqs);
      }
      seqs.set(message.seq, message);
    }
  }

  /** A conversation's messages by seq. */
  async messages(conversationId: string): Promise<Message[]> {
    return [...(this.byConversation.get(conversationId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  /** Stores conversations. */
  async putConversations(conversations: Conversation[]): Promise<void> {
    for (const conversation of conversations) this.conversationList.set(conversation.conversationId, conversation);
  }

  /** The conversation list. */
  async conversations(): Promise<Conversation[]> {
    return [...this.conversationList.values()].sort((a, b) => b.updatedAt - a.updatedAt);
  }
}

const MESSAGES = "messages";
const CONVERSATIONS = "conversations";

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function committed(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

/** A cache in the browser's IndexedDB database `name` (one per signed-in user is wise). */
export class IndexedDbCache implements Cache {
  private readonly db: Promise<IDBDatabase>;

  /** Opens (or creates) the database. */
  constructor(name: string, factory: IDBFactory = indexedDB) {
    const open = factory.open(name, 1);
    open.onupgradeneeded = () => {
      const db = open.result;
      const messages = db.createObjectStore(MESSAGES, { keyPath: ["conversationId", "seq"] });
      messages.createIndex("conversationId", "conversationId");
      db.createObjectStore(CONVERSATIONS, { keyPath: "conversationId" });
    };
    this.db = done(open);
  }

  private async write(store: string, values: unknown[]): Promise<void> {
    const transaction = (await this.db).transaction(store, "readwrite");
    const objects = transaction.objectStore(store);
    for (const value of values) objects.put(value);
    await committed(transaction);
  }

  /** Stores messages. */
  putMessages(messages: Message[]): Promise<void> {
    return this.write(MESSAGES, messages);
  }

  /** A conversation's messages by seq (the key orders them). */
  async messages(conversationId: string): Promise<Message[]> {
    const index = (await this.db).transaction(MESSAGES).objectStore(MESSAGES).index("conversationId");
    const found = (await done(index.getAll(conversationId))) as Message[];
    return found.sort((a, b) => a.seq - b.seq);
  }

  /** Stores conversations. */
  putConversations(conversations: Conversation[]): Promise<void> {
    return this.write(CONVERSATIONS, conversations);
  }

  /** The conversation list. */
  async conversations(): Promise<Conversation[]> {
    const store = (await this.db).transaction(CONVERSATIONS).objectStore(CONVERSATIONS);
    const found = (await done(store.getAll())) as Conversation[];
    return found.sort((a, b) => b.updatedAt - a.updatedAt);
  }
}

/** IndexedDB where the environment has it (a browser), memory otherwise (Node). */
export function defaultCache(name = "cirrus"): Cache {
  return typeof indexedDB === "undefined" ? new MemoryCache() : new IndexedDbCache(name);
}
