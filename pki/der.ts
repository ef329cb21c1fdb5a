/**
 * The strict DER subset Nebula's v2 certificates use (Go's x/crypto/cryptobyte rules): one-octet
 * tags, definite minimal lengths of at most 4 length octets, minimal INTEGERs of at most 8 bytes.
 * Anything else is a DerError, which the certificate codec reports as Nebula's "bad wire format".
 */

export class DerError extends Error {
  constructor(message = 'bad wire format') {
    super(message);
    this.name = 'DerError';
  }
}

function lengthOctets(length: number): number[] {
  if (length < 0x80) return [length];
  const out: number[] = [];
  for (let v = length; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  if (out.length > 4) throw new DerError('DER element too long');
  return [0x80 | out.length, ...out];
}

/** One TLV element: `tag`, its minimal length, then the content. */
export function derElement(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const length = contents.reduce((n, c) => n + c.length, 0);
  const header = [tag, ...lengthOctets(length)];
  const out = new Uint8Array(header.length + length);
  out.set(header, 0);
  let at = header.length;
  for (const c of contents) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The content octets of a minimal two's-complement INTEGER holding a signed 64-bit value. */
export function derInt64Content(value: bigint): Uint8Array {
  if (value < -(1n << 63n) || value >= 1n << 63n) throw new DerError('integer out of the int64 range');
  const bytes: number[] = [];
  let v = BigInt.asUintN(64, value);
  for (let i = 0; i < 8; i++) {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  // Drop leading octets that only repeat the sign.
  while (bytes.length > 1 && ((bytes[0] === 0 && (bytes[1]! & 0x80) === 0) || (bytes[0] === 0xff && (bytes[1]! & 0x80) !== 0))) bytes.shift();
  return Uint8Array.from(bytes);
}

/** The content of a minimal unsigned INTEGER (a leading 0x00 when the top bit is set). */
export function derUnsignedContent(value: bigint): Uint8Array {
  const hex = value.toString(16);
  const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  return bytes[0]! & 0x80 ? Uint8Array.from([0, ...bytes]) : Uint8Array.from(bytes);
}

/** A minimal INTEGER's content as a bigint (two's complement); throws for a non-minimal or empty one. */
export function derIntegerValue(content: Uint8Array): bigint {
  if (content.length === 0) throw new DerError();
  if (content.length > 1 && ((content[0] === 0 && (content[1]! & 0x80) === 0) || (content[0] === 0xff && (content[1]! & 0x80) !== 0))) {
    throw new DerError();
  }
  let v = 0n;
  for (const b of content) v = (v << 8n) | BigInt(b);
  return content[0]! & 0x80 ? v - (1n << BigInt(content.length * 8)) : v;
}

export interface DerElement {
  tag: number;
  /** The content octets. */
  content: Uint8Array;
  /** The whole element: tag, length and content. */
  element: Uint8Array;
}

/** Reads elements front to back from a byte range. */
export class DerReader {
  private pos = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get empty(): boolean {
    return this.pos >= this.bytes.length;
  }

  peekTag(): number | undefined {
    return this.empty ? undefined : this.bytes[this.pos];
  }

  /** The next element, which must carry `tag`. */
  read(tag: number): DerElement {
    const b = this.bytes;
    const start = this.pos;
    if (b.length - start < 2 || b[start] !== tag || (tag & 0x1f) === 0x1f) throw new DerError();
    const first = b[start + 1]!;
    let length: number;
    let header: number;
    if ((first & 0x80) === 0) {
      length = first;
      header = 2;
    } else {
      const count = first & 0x7f;
      if (count === 0 || count > 4 || b.length - start < 2 + count) throw new DerError();
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + b[start + 2 + i]!;
      // Long form only from 128 on, and without leading zero octets.
      if (length < 0x80 || b[start + 2] === 0) throw new DerError();
      header = 2 + count;
    }
    const end = start + header + length;
    if (end > b.length) throw new DerError();
    this.pos = end;
    return { tag, content: b.subarray(start + header, end), element: b.subarray(start, end) };
  }

  /** The next element when it carries `tag`, else undefined (nothing consumed). */
  readOptional(tag: number): DerElement | undefined {
    return this.peekTag() === tag ? this.read(tag) : undefined;
  }

  /** An INTEGER with `tag` as a signed 64-bit value. */
  readInt64(tag: number): bigint {
    const { content } = this.read(tag);
    if (content.length > 8) throw new DerError();
    return derIntegerValue(content);
  }
}
