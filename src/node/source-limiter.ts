/**
 * Admission per source IP address: a token bucket per address, checked before the work a datagram
 * from it would cost, so that a flood from a few addresses costs a map lookup each. A flood from
 * many (spoofed) addresses is bounded by the table size instead.
 *
 * Used for handshake message 1s (before any public-key work) and for the recv_errors we answer
 * unknown indexes with (one reply per forged datagram would make us a reflector). A GlobalBudget
 * bounds what all sources together may cost (handshakes.incoming_per_second).
 */

/**
 * Message 1s per second each source address may make us process, and the burst it may save up:
 * generous enough for many hosts behind one NAT address retrying at Nebula's pace.
 */
export const STAGE1_PER_SECOND = 20;
export const STAGE1_BURST = 40;
/** recv_errors per second we send to one address, and their burst: a peer that lost its tunnel needs one. */
export const RECV_ERRORS_PER_SECOND = 5;
export const RECV_ERRORS_BURST = 10;
/**
 * recv_errors per second we send to all addresses together, and their burst: a flood of unknown
 * indexes from thousands of (spoofed) addresses passes every per-address bucket.
 */
export const RECV_ERRORS_TOTAL_PER_SECOND = 500;
export const RECV_ERRORS_TOTAL_BURST = 1000;
/** Addresses tracked at once; past this the table restarts (a flood of new addresses resets it). */
const MAX_SOURCES = 65_536;

interface Bucket {
  tokens: number;
  at: number;
}

/** Adds the tokens earned since the bucket's last use (at most `burst`), then takes one if there is one. */
function take(bucket: Bucket, nowMs: number, perSecond: number, burst: number): boolean {
  // A clock that goes back earns nothing, now or later.
  if (nowMs > bucket.at) {
    bucket.tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.at) * perSecond) / 1000);
    bucket.at = nowMs;
  } else {
    bucket.tokens = Math.min(burst, bucket.tokens);
  }
  if (bucket.tokens < 1) return false;
  bucket.tokens--;
  return true;
}

export class SourceLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  /** Whether a datagram from `address` may be processed at `nowMs` (takes a token when it may). */
  allow(address: string, nowMs: number): boolean {
    let bucket = this.buckets.get(address);
    if (!bucket) {
      if (this.buckets.size >= MAX_SOURCES) this.buckets.clear();
      bucket = { tokens: this.burst, at: nowMs };
      this.buckets.set(address, bucket);
    }
    return take(bucket, nowMs, this.perSecond, this.burst);
  }

  get sources(): number {
    return this.buckets.size;
  }
}

/**
 * One budget for all sources together (a flood from thousands of addresses passes every per-address
 * bucket). Rate and burst are passed on each call, so that a reloaded config applies at once; the
 * bucket starts full.
 */
export class GlobalBudget {
  private readonly bucket: Bucket = { tokens: Infinity, at: 0 };

  allow(nowMs: number, perSecond: number, burst: number): boolean {
    return take(this.bucket, nowMs, perSecond, burst);
  }
}
