/** Remembers the newest message ids seen, so at-least-once delivery reaches the app once. */

/** A bounded set of message ids: the oldest are forgotten past `capacity`. */
export class SeenIds {
  private readonly ids = new Set<string>();

  /** A set that remembers at most `capacity` ids. */
  constructor(private readonly capacity = 10_000) {}

  /** Records `id`; false if it was already seen. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      // A Set iterates in insertion order: the first is the oldest.
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }

  /** Whether `id` was seen. */
  has(id: string): boolean {
    return this.ids.has(id);
  }
}
