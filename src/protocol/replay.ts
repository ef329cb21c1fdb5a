/**
 * Anti-replay window with the semantics of Nebula 1.6's bits.go (window 1024).
 *
 * A ring of `size` slots indexed by counter mod size, plus `current`, the highest counter accepted.
 * `check` is the cheap pre-decryption test; `update` records a counter after the packet
 * authenticated and reports whether it was fresh. A new window accepts counter 0 exactly once
 * (Nebula's tunnels mark 0 at creation, then 1/2 for the handshake stages).
 */
export const REPLAY_WINDOW = 1024;

export class ReplayWindow {
  readonly size: number;
  private readonly slots: Uint8Array;
  private currentCounter = 0;
  private zeroSeen = false;

  constructor(size: number = REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`invalid replay window size ${size}`);
    this.size = size;
    this.slots = new Uint8Array(size);
  }

  /** The highest counter accepted so far. */
  get current(): number {
    return this.currentCounter;
  }

  /** True when `counter` may be new: ahead of current, or inside the window and not yet seen. */
  check(counter: number): boolean {
    const cur = this.currentCounter;
    const len = this.size;
    if (counter > cur) return true;
    if (counter === 0 && !this.zeroSeen && cur < len) return true;
    // Within the window: answer from the slot. Like bits.go, a counter below `size` is also
    // answered from its slot after the window has moved on (that slot then belongs to a newer
    // counter); such a stale packet passes check() but is refused by update().
    if ((cur >= len && counter > cur - len) || counter < len) {
      return this.slots[counter % len] === 0;
    }
    return false;
  }

  /** Marks `counter` as received; false for duplicates and counters that fell out of the window. */
  update(counter: number): boolean {
    const cur = this.currentCounter;
    const len = this.size;
    const slots = this.slots;

    if (counter > cur) {
      if (counter >= cur + len) {
        // Jumped past the whole window: forget everything.
        slots.fill(0);
      } else if (counter > cur + 1) {
        // Clear the skipped slots (cur+1 .. counter-1) so those packets may still arrive.
        const from = (cur + 1) % len;
        const to = counter % len; // exclusive
        if (from < to) {
          slots.fill(0, from, to);
        } else {
          slots.fill(0, from, len);
          slots.fill(0, 0, to);
        }
      }
      slots[counter % len] = 1;
      this.currentCounter = counter;
      return true;
    }

    if (counter === 0 && !this.zeroSeen && cur < len) {
      this.zeroSeen = true;
      slots[0] = 1;
      return true;
    }

    const inWindow = cur >= len ? counter > cur - len : counter < len;
    if (inWindow && counter <= cur) {
      if (counter === cur || slots[counter % len] !== 0) return false; // duplicate
      slots[counter % len] = 1;
      return true;
    }
    return false; // too old
  }
}
