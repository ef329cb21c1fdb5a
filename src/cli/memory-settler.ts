/**
 * Hands back the memory a node's start-up or a reload used, once the node is quiet. Both leave
 * garbage (config and certificate parsing; after a start from the snapshot, objects only start-up
 * uses) that V8 keeps resident: its memory reducer starts only after a full collection, which an
 * idle node may never run. Armed, the settler waits for a check interval without a datagram in or
 * out, then releases (V8's low-memory collection and malloc_trim: ~1.5 MiB of an idle node's RSS),
 * once per arming (src/node/quiet.ts). The pause (10-40 ms) then delays no packet, and a busy node,
 * whose collections V8 runs anyway, is left alone.
 */
import { whenQuiet } from '../node/quiet.js';
import type { Timer, Timers } from '../node/timers.js';

export class MemorySettler {
  private check: Timer | null = null;

  /** `activity`: a count that grows with every datagram (received plus sent). */
  constructor(
    private readonly activity: () => number,
    private readonly timers: Timers,
    private readonly release: () => void,
  ) {}

  /** Releases at the end of the next quiet interval (a no-op while already armed). */
  arm(): void {
    if (this.check) return;
    this.check = whenQuiet(this.timers, this.activity, () => {
      this.check = null;
      this.release();
    });
  }

  stop(): void {
    this.check?.cancel();
    this.check = null;
  }
}
