/**
 * Waiting for a quiet node. Some work stalls the event loop for tens of milliseconds: V8's
 * low-memory collection (src/cli/memory-settler.ts), the first load of a slow package (the STUN
 * codec, nat-discovery.ts). Done while datagrams flow, the stall delays them; at a node's start it
 * held back the lighthouse update and query that the first handshake had queued.
 */
import type { Timer, Timers } from './timers.js';

/** How long a node must have carried nothing to count as quiet. */
export const QUIET_INTERVAL_MS = 500;

/**
 * Runs `run` once: at the end of the first QUIET_INTERVAL_MS in which `activity` (a count that grows
 * with every datagram in or out) did not move, or, whatever the traffic, once `latestMs` have passed.
 * Cancelling the returned timer gives up.
 */
export function whenQuiet(timers: Timers, activity: () => number, run: () => void, latestMs = Number.POSITIVE_INFINITY): Timer {
  let seen = activity();
  let waited = 0;
  const check = timers.every(QUIET_INTERVAL_MS, () => {
    waited += QUIET_INTERVAL_MS;
    const now = activity();
    if (now !== seen && waited < latestMs) {
      seen = now;
      return;
    }
    check.cancel();
    run();
  });
  return check;
}
