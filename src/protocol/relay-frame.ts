/**
 * Relay frames (Nebula 1.6 §6.4): what a node sends over a hop tunnel to carry another packet.
 *
 *   outer header (type 1, subtype 1, remote index = the hop's relay index, counter = hop counter)
 *   || inner packet (complete, with its own 16-byte header; NOT re-encrypted)
 *   || tag = AEAD_Seal(hop key, nonce(counter), plaintext = empty, ad = outer header || inner)
 */
import { TAG_LEN, type Aead } from './aead.js';
import { HEADER_LEN, MessageSubType, MessageType, writeHeader } from './header.js';

export const RELAY_OVERHEAD = HEADER_LEN + TAG_LEN;

const EMPTY = new Uint8Array(0);

export function sealRelayFrame(aead: Aead, relayRemoteIndex: number, counter: number, inner: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LEN + inner.length + TAG_LEN);
  writeHeader(out, 0, MessageType.Message, MessageSubType.Relay, relayRemoteIndex, counter);
  out.set(inner, HEADER_LEN);
  const authenticated = out.subarray(0, HEADER_LEN + inner.length);
  const tag = aead.seal(counter, authenticated, EMPTY);
  out.set(tag, HEADER_LEN + inner.length);
  return out;
}

/** Verifies the hop tag; returns the inner packet (a view into `frame`) or null. */
export function openRelayFrame(aead: Aead, frame: Uint8Array, counter: number): Buffer | null {
  if (frame.length < RELAY_OVERHEAD) return null;
  const adEnd = frame.length - TAG_LEN;
  if (aead.open(counter, frame.subarray(0, adEnd), frame.subarray(adEnd)) === null) return null;
  return Buffer.from(frame.buffer, frame.byteOffset + HEADER_LEN, adEnd - HEADER_LEN);
}
