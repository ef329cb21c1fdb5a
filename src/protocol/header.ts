/**
 * The 16-byte Nebula packet header (big-endian):
 *
 *   byte 0      high nibble version (always written as 1, never checked), low nibble message type
 *   byte 1      subtype
 *   bytes 2-3   reserved (written 0, ignored)
 *   bytes 4-7   remote index: the receiver's local index for the tunnel
 *   bytes 8-15  message counter (u64)
 *
 * Counters are handled as JS numbers (exact up to 2^53, far beyond anything a tunnel will reach).
 */

export const HEADER_LEN = 16;
export const HEADER_VERSION = 1;

export const MessageType = {
  Handshake: 0,
  Message: 1,
  RecvError: 2,
  LightHouse: 3,
  Test: 4,
  CloseTunnel: 5,
  Control: 6,
} as const;

export const MessageSubType = {
  None: 0,
  Relay: 1,
  TestRequest: 0,
  TestReply: 1,
  IxPsk0: 0,
} as const;

export interface Header {
  version: number;
  type: number;
  subtype: number;
  reserved: number;
  remoteIndex: number;
  counter: number;
}

const TWO_32 = 0x1_0000_0000;

/** Writes a u64 counter big-endian at `offset`. */
export function writeU64BE(out: Uint8Array, offset: number, value: number): void {
  const hi = Math.floor(value / TWO_32);
  const lo = value >>> 0;
  out[offset] = hi >>> 24;
  out[offset + 1] = (hi >>> 16) & 0xff;
  out[offset + 2] = (hi >>> 8) & 0xff;
  out[offset + 3] = hi & 0xff;
  out[offset + 4] = lo >>> 24;
  out[offset + 5] = (lo >>> 16) & 0xff;
  out[offset + 6] = (lo >>> 8) & 0xff;
  out[offset + 7] = lo & 0xff;
}

/** Reads a big-endian u32 at `offset`. */
export function readU32BE(data: Uint8Array, offset: number): number {
  return (
    ((data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!) >>> 0
  );
}

/** Reads a big-endian u64 at `offset` as hi*2^32+lo (exact below 2^53). */
export function readU64BE(data: Uint8Array, offset: number): number {
  return readU32BE(data, offset) * TWO_32 + readU32BE(data, offset + 4);
}

/** Writes a version-1 header into `out` at `offset` (needs 16 bytes of room). */
export function writeHeader(
  out: Uint8Array,
  offset: number,
  type: number,
  subtype: number,
  remoteIndex: number,
  counter: number,
): void {
  if (out.length - offset < HEADER_LEN) throw new RangeError('writeHeader: buffer too small');
  out[offset] = (HEADER_VERSION << 4) | (type & 0x0f);
  out[offset + 1] = subtype & 0xff;
  out[offset + 2] = 0;
  out[offset + 3] = 0;
  const ri = remoteIndex >>> 0;
  out[offset + 4] = ri >>> 24;
  out[offset + 5] = (ri >>> 16) & 0xff;
  out[offset + 6] = (ri >>> 8) & 0xff;
  out[offset + 7] = ri & 0xff;
  writeU64BE(out, offset + 8, counter);
}

/** Returns a new 16-byte Buffer holding the header. */
export function encodeHeader(type: number, subtype: number, remoteIndex: number, counter: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LEN);
  writeHeader(out, 0, type, subtype, remoteIndex, counter);
  return out;
}

/** Parses the first 16 bytes of a datagram; null when it is shorter than 16 bytes. */
export function parseHeader(data: Uint8Array): Header | null {
  if (data.length < HEADER_LEN) return null;
  const b0 = data[0]!;
  return {
    version: b0 >>> 4,
    type: b0 & 0x0f,
    subtype: data[1]!,
    reserved: (data[2]! << 8) | data[3]!,
    remoteIndex: readU32BE(data, 4),
    counter: readU64BE(data, 8),
  };
}

/** The recv_error packet: header only, type 2, counter 0, index copied from the offending packet. */
export function encodeRecvError(offendingIndex: number): Buffer {
  return encodeHeader(MessageType.RecvError, 0, offendingIndex, 0);
}
