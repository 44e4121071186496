/** A small typed event emitter (no runtime dependency on Node's `events`). */

/** A listener of event `K` of map `M`. */
export type Listener<M, K extends keyof M> = (data: M[K]) => void;

/** Emits events of map `M` to listeners registered by name. */
export class Emitter<M> {
  private readonly listeners = new Map<keyof M, Set<(data: never) => void>>();

  /** Calls `fn` on every `event`; returns a function that removes it. */
  on<K extends keyof M>(event: K, fn: Listener<M, K>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn as (data: never) => void);
    return () => this.off(event, fn);
  }

  /** Calls `fn` on the next `event` only. */
  once<K extends keyof M>(event: K, fn: Listener<M, K>): () => void {
    const off = this.on(event, (data) => {
      off();
      fn(data);
    });
    return off;
  }

  /** Removes `fn`. */
  off<K extends keyof M>(event: K, fn: Listener<M, K>): void {
    this.listeners.get(event)?.delete(fn as (data: never) => void);
  }

  /** Resolves with the next `event` whose data `accept` takes. */
  next<K extends keyof M>(event: K, accept: (data: M[K]) => boolean = () => true): Promise<M[K]> {
    return new Promise((resolve) => {
      const off = this.on(event, (data) => {
        if (accept(data)) {
          off();
          resolve(data);
        }
      });
    });
  }

  /** Delivers `data` to every listener of `event`; a throwing listener does not stop the others. */
  protected emit<K extends keyof M>(event: K, data: M[K]): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        (fn as Listener<M, K>)(data);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
