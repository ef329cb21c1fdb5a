/**
 * Stage-1 handshake admission: a token bucket per source IP address, checked before any public-key
 * work, so that a flood of message 1s from a few addresses costs a map lookup each instead of three
 * X25519 operations and a certificate check. Generous enough for many hosts behind one NAT address
 * retrying at Nebula's pace; a flood from spoofed addresses is bounded by the table size instead.
 */

/** Message 1s per second each source address may make us process, and the burst it may save up. */
export const STAGE1_PER_SECOND = 20;
export const STAGE1_BURST = 40;
/** Addresses tracked at once; past this the table restarts (a flood of new addresses resets it). */
const MAX_SOURCES = 65_536;

interface Bucket {
  tokens: number;
  at: number;
}

export class HandshakeLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly perSecond = STAGE1_PER_SECOND,
    private readonly burst = STAGE1_BURST,
  ) {}

  /** Whether a message 1 from `address` may be processed at `nowMs` (takes a token when it may). */
  allow(address: string, nowMs: number): boolean {
    let bucket = this.buckets.get(address);
    if (!bucket) {
      if (this.buckets.size >= MAX_SOURCES) this.buckets.clear();
      bucket = { tokens: this.burst, at: nowMs };
      this.buckets.set(address, bucket);
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((nowMs - bucket.at) * this.perSecond) / 1000);
      bucket.at = nowMs;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }

  get sources(): number {
    return this.buckets.size;
  }
}
