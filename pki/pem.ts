/**
 * PEM armor for Nebula certificates and keys. node-forge does the encoding and base64 decoding;
 * this module adds the framing rules of Go's encoding/pem that Nebula relies on (text before a
 * BEGIN line is skipped, several blocks may be concatenated) and rejects garbled blocks that
 * node-forge would silently mis-decode.
 */
import pem from 'node-forge/lib/pem.js';
import util from 'node-forge/lib/util.js';
import { CertificateError, unmarshalCertificate, type Certificate, type CertificateVersion } from './cert.js';

export const CERT_BANNER = 'NEBULA CERTIFICATE';
/** Nebula 1.10+ (ASN.1 DER certificates). */
export const CERT_V2_BANNER = 'NEBULA CERTIFICATE V2';
export const X25519_PRIVATE_KEY_BANNER = 'NEBULA X25519 PRIVATE KEY';
export const X25519_PUBLIC_KEY_BANNER = 'NEBULA X25519 PUBLIC KEY';
export const P256_PRIVATE_KEY_BANNER = 'NEBULA P256 PRIVATE KEY';
export const P256_PUBLIC_KEY_BANNER = 'NEBULA P256 PUBLIC KEY';
export const ED25519_PRIVATE_KEY_BANNER = 'NEBULA ED25519 PRIVATE KEY';
export const ED25519_PUBLIC_KEY_BANNER = 'NEBULA ED25519 PUBLIC KEY';
export const ECDSA_P256_PRIVATE_KEY_BANNER = 'NEBULA ECDSA P256 PRIVATE KEY';
/** Written by `nebula-cert ca -encrypt`; recognised only to give a clear error. */
export const ENCRYPTED_PRIVATE_KEY_BANNERS: readonly string[] = ['NEBULA ED25519 ENCRYPTED PRIVATE KEY', 'NEBULA ECDSA P256 ENCRYPTED PRIVATE KEY'];

/** The certificate format a PEM banner selects (Nebula chooses the parser by banner alone), or undefined. */
export function certificateVersionOfBanner(type: string): CertificateVersion | undefined {
  if (type === CERT_BANNER) return 1;
  if (type === CERT_V2_BANNER) return 2;
  return undefined;
}

export class PemError extends CertificateError {
  constructor(message: string) {
    super(message);
    this.name = 'PemError';
  }
}

export interface PemBlock {
  type: string;
  bytes: Uint8Array;
}

export interface PemBlocks {
  blocks: PemBlock[];
  /** Text after the last block (Nebula refuses non-blank trailing text in certificate files). */
  trailing: string;
}

/** PEM text exactly as Go's pem.EncodeToMemory writes it (64-column base64, LF line ends). */
export function encodePem(type: string, bytes: Uint8Array): string {
  const body = util.binary.raw.encode(bytes);
  return pem.encode({ type, body }, { maxline: 64 }).replace(/\r\n/g, '\n');
}

function toText(input: string | Uint8Array): string {
  return typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Index of "-----BEGIN " at the start of a line, at or after `from`, or -1. */
function findBegin(text: string, from: number): number {
  let i = from;
  for (;;) {
    const at = text.indexOf('-----BEGIN ', i);
    if (at < 0) return -1;
    if (at === 0 || text[at - 1] === '\n') return at;
    i = at + 1;
  }
}

function lineEnd(text: string, from: number): number {
  const nl = text.indexOf('\n', from);
  return nl < 0 ? text.length : nl;
}

/** Decodes every PEM block in the input, in order. Throws PemError for a garbled block. */
export function decodePemBlocks(input: string | Uint8Array): PemBlocks {
  const text = toText(input);
  const blocks: PemBlock[] = [];
  let pos = 0;
  for (;;) {
    const begin = findBegin(text, pos);
    if (begin < 0) break;
    const headerEnd = lineEnd(text, begin);
    const header = text.slice(begin, headerEnd).replace(/[ \t\r]+$/, '');
    if (!header.endsWith('-----') || header.length < '-----BEGIN -----'.length) {
      throw new PemError('malformed PEM BEGIN line');
    }
    const type = header.slice('-----BEGIN '.length, -5);
    const endMarker = `\n-----END ${type}-----`;
    const endAt = text.indexOf(endMarker, headerEnd);
    if (endAt < 0) throw new PemError(`PEM block "${type}" has no END line (truncated?)`);
    const endLineEnd = lineEnd(text, endAt + 1);
    if (text.slice(endAt + endMarker.length, endLineEnd).trim() !== '') throw new PemError(`malformed PEM END line for "${type}"`);
    const base64Text = text.slice(headerEnd + 1, endAt + 1);
    if (base64Text.includes(':')) throw new PemError(`PEM block "${type}" has headers, which are not supported`);
    const compact = base64Text.replace(/\s+/g, '');
    if (!BASE64.test(compact) || compact.length % 4 !== 0) {
      throw new PemError(`PEM block "${type}" does not contain valid base64 data`);
    }
    const segment = text.slice(begin, endLineEnd);
    const decoded = pem.decode(segment);
    const msg = decoded[0];
    if (decoded.length !== 1 || !msg || msg.type !== type) throw new PemError(`could not decode PEM block "${type}"`);
    blocks.push({ type, bytes: Uint8Array.from(util.binary.raw.decode(msg.body)) });
    pos = Math.min(endLineEnd + 1, text.length);
  }
  return { blocks, trailing: text.slice(pos) };
}

/**
 * Decodes the first PEM block, which must carry one of `banners` (as Nebula's Unmarshal*FromPEM
 * do). `what` names the expected content in the error messages.
 */
export function decodePemAny(input: string | Uint8Array, banners: readonly string[], what: string): PemBlock {
  const { blocks } = decodePemBlocks(input);
  const first = blocks[0];
  if (!first) throw new PemError('input did not contain a valid PEM encoded block');
  if (!banners.includes(first.type)) {
    if (ENCRYPTED_PRIVATE_KEY_BANNERS.includes(first.type)) throw new PemError('encrypted private keys are not supported');
    const expected = banners.map((b) => `"${b}"`).join(' or ');
    throw new PemError(`expected a ${what} (PEM banner ${expected}), found "${first.type}"`);
  }
  return first;
}

/** decodePemAny with a single banner; the bytes of the block. */
export function decodePem(input: string | Uint8Array, banner: string, what = banner): Uint8Array {
  return decodePemAny(input, [banner], what).bytes;
}

/** A certificate PEM block of either version. */
export function certificateFromBlock(block: PemBlock): Certificate {
  const version = certificateVersionOfBanner(block.type);
  if (!version) throw new CertificateError(`expected PEM banner "${CERT_BANNER}" or "${CERT_V2_BANNER}", found "${block.type}"`);
  return unmarshalCertificate(block.bytes, { version });
}

/** Every certificate in the PEM input (at least one); blank trailing text only. */
export function parseCertificatesPem(pem: string | Uint8Array): Certificate[] {
  const { blocks, trailing } = decodePemBlocks(pem);
  if (blocks.length === 0) throw new CertificateError('input did not contain a valid PEM encoded block');
  if (trailing.trim() !== '') throw new CertificateError('unexpected data after the last PEM block');
  return blocks.map((block, i) => {
    const where = blocks.length > 1 ? `certificate #${i + 1}: ` : '';
    try {
      return certificateFromBlock(block);
    } catch (err) {
      if (err instanceof CertificateError) throw new CertificateError(`${where}${err.message}`);
      throw err;
    }
  });
}
