/**
 * Anti-replay window with the semantics of Nebula 1.6's bits.go (window 1024).
 *
 * A ring of `size` slots indexed by counter mod size, plus `current`, the highest counter accepted.
 * `check` is the cheap pre-decryption test; `update` records a counter after the packet
 * authenticated and reports whether it was fresh. A new window accepts counter 0 exactly once
 * (Nebula's tunnels mark 0 at creation, then 1/2 for the handshake stages).
 */
export const REPLAY_WINDOW = 1024;

/**
 * Where a window keeps its state: one bit per slot, and [current, zeroSeen] as the first two
 * float64 of `state` (exact below 2^53; the caller may keep more after them). Given by the caller when other code shares the window (the native fast path reads
 * and updates the very same memory: native/src/fastpath.cc).
 */
export interface ReplayWindowStorage {
  slots: Uint32Array;
  state: Float64Array;
}

export class ReplayWindow {
  readonly size: number;
  /** One bit per slot (a lighthouse holds a window per tunnel: 128 bytes instead of 1 KiB each). */
  private readonly slots: Uint32Array;
  /** [0] the highest counter accepted, [1] 1 once counter 0 was accepted. */
  private readonly state: Float64Array;

  constructor(size: number = REPLAY_WINDOW, storage?: ReplayWindowStorage) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`invalid replay window size ${size}`);
    this.size = size;
    const words = Math.ceil(size / 32);
    if (storage && (storage.slots.length !== words || storage.state.length < 2)) throw new RangeError('replay window storage does not fit its size');
    this.slots = storage?.slots ?? new Uint32Array(words);
    this.state = storage?.state ?? new Float64Array(2);
  }

  /** The highest counter accepted so far. */
  get current(): number {
    return this.state[0]!;
  }

  private get zeroSeen(): boolean {
    return this.state[1] !== 0;
  }

  /** True when `counter` may be new: ahead of current, or inside the window and not yet seen. */
  check(counter: number): boolean {
    const cur = this.state[0]!;
    const len = this.size;
    if (counter > cur) return true;
    if (counter === 0 && !this.zeroSeen && cur < len) return true;
    // Within the window: answer from the slot. Like bits.go, a counter below `size` is also
    // answered from its slot after the window has moved on (that slot then belongs to a newer
    // counter); such a stale packet passes check() but is refused by update().
    if ((cur >= len && counter > cur - len) || counter < len) {
      return !this.seen(counter % len);
    }
    return false;
  }

  /** Marks `counter` as received; false for duplicates and counters that fell out of the window. */
  update(counter: number): boolean {
    const cur = this.state[0]!;
    const len = this.size;

    if (counter > cur) {
      if (counter >= cur + len) {
        // Jumped past the whole window: forget everything.
        this.slots.fill(0);
      } else if (counter > cur + 1) {
        // Clear the skipped slots (cur+1 .. counter-1) so those packets may still arrive.
        const from = (cur + 1) % len;
        const to = counter % len; // exclusive
        if (from < to) {
          this.clear(from, to);
        } else {
          this.clear(from, len);
          this.clear(0, to);
        }
      }
      this.mark(counter % len);
      this.state[0] = counter;
      return true;
    }

    if (counter === 0 && !this.zeroSeen && cur < len) {
      this.state[1] = 1;
      this.mark(0);
      return true;
    }

    const inWindow = cur >= len ? counter > cur - len : counter < len;
    if (inWindow && counter <= cur) {
      if (counter === cur || this.seen(counter % len)) return false; // duplicate
      this.mark(counter % len);
      return true;
    }
    return false; // too old
  }

  private seen(slot: number): boolean {
    return ((this.slots[slot >>> 5]! >>> (slot & 31)) & 1) === 1;
  }

  private mark(slot: number): void {
    this.slots[slot >>> 5]! |= 1 << (slot & 31);
  }

  /** Clears slots [from, to). */
  private clear(from: number, to: number): void {
    const slots = this.slots;
    for (; from < to && (from & 31) !== 0; from++) slots[from >>> 5]! &= ~(1 << (from & 31));
    for (; from + 32 <= to; from += 32) slots[from >>> 5] = 0;
    for (; from < to; from++) slots[from >>> 5]! &= ~(1 << (from & 31));
  }
}
