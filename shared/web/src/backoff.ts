/** Reconnection delays: capped exponential backoff with full jitter. */

/** How reconnect attempts are spaced. */
export interface BackoffOptions {
  /** The cap of the first attempt's delay, ms (default 250). */
  initialMs?: number;
  /** The cap of any delay, ms (default 30,000). */
  maxMs?: number;
}

/**
 * The delay before attempt `attempt` (from 0): uniform in [0, min(max, initial * 2^attempt)], so
 * clients dropped together spread out instead of returning together.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 30_000;
  // 2^attempt overflows to Infinity long after the cap applies; min() keeps it finite.
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * ceiling);
}
