/**
 * PEM armor for Nebula certificates and keys. node-forge does the encoding and base64 decoding;
 * this module adds the framing rules of Go's encoding/pem that Nebula relies on (text before a
 * BEGIN line is skipped, several blocks may be concatenated) and rejects garbled blocks that
 * node-forge would silently mis-decode.
 */
import pem from 'node-forge/lib/pem.js';
import util from 'node-forge/lib/util.js';
import { CertificateError, unmarshalCertificate, UnsupportedCertificateVersionError, type Certificate } from './cert.js';

export const CERT_BANNER = 'NEBULA CERTIFICATE';
/** Nebula 1.10+ (ASN.1 certificates); recognised only to give a clear error. */
export const CERT_V2_BANNER = 'NEBULA CERTIFICATE V2';
export const X25519_PRIVATE_KEY_BANNER = 'NEBULA X25519 PRIVATE KEY';
export const X25519_PUBLIC_KEY_BANNER = 'NEBULA X25519 PUBLIC KEY';
export const ED25519_PRIVATE_KEY_BANNER = 'NEBULA ED25519 PRIVATE KEY';
export const ED25519_PUBLIC_KEY_BANNER = 'NEBULA ED25519 PUBLIC KEY';
/** Written by later Nebula versions (`nebula-cert ca -encrypt`); recognised only to give a clear error. */
export const ED25519_ENCRYPTED_PRIVATE_KEY_BANNER = 'NEBULA ED25519 ENCRYPTED PRIVATE KEY';

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
 * Decodes the first PEM block, which must carry `banner` (as Nebula's Unmarshal*FromPEM do).
 * `what` names the expected content in the error messages.
 */
export function decodePem(input: string | Uint8Array, banner: string, what = banner): Uint8Array {
  const { blocks } = decodePemBlocks(input);
  const first = blocks[0];
  if (!first) throw new PemError('input did not contain a valid PEM encoded block');
  if (first.type !== banner) {
    if (first.type === ED25519_ENCRYPTED_PRIVATE_KEY_BANNER) throw new PemError('encrypted private keys are not supported');
    if (first.type === CERT_V2_BANNER && banner === CERT_BANNER) throw new UnsupportedCertificateVersionError();
    throw new PemError(`expected a ${what} (PEM banner "${banner}"), found "${first.type}"`);
  }
  return first.bytes;
}

/** Every certificate in the PEM input (at least one); blank trailing text only. */
export function parseCertificatesPem(pem: string | Uint8Array): Certificate[] {
  const { blocks, trailing } = decodePemBlocks(pem);
  if (blocks.length === 0) throw new CertificateError('input did not contain a valid PEM encoded block');
  if (trailing.trim() !== '') throw new CertificateError('unexpected data after the last PEM block');
  return blocks.map((block, i) => {
    const where = blocks.length > 1 ? `certificate #${i + 1}: ` : '';
    if (block.type === CERT_V2_BANNER) throw new UnsupportedCertificateVersionError(where);
    if (block.type !== CERT_BANNER) throw new CertificateError(`${where}expected PEM banner "${CERT_BANNER}", found "${block.type}"`);
    try {
      return unmarshalCertificate(block.bytes);
    } catch (err) {
      if (err instanceof UnsupportedCertificateVersionError) throw new UnsupportedCertificateVersionError(where);
      throw new CertificateError(`${where}${(err as Error).message}`);
    }
  });
}
