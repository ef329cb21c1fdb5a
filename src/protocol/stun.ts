/**
 * STUN (RFC 5389) on the node's UDP port. Telling STUN from Nebula: a STUN message starts with two
 * zero bits and carries the magic cookie at bytes 4-7, while every Nebula 1.6 header starts with
 * version 1 (byte 0 is 0x10-0x16). A Nebula node reads a STUN request as handshake subtype 1, which
 * it ignores.
 *
 * This module is the cheap framing every datagram passes through; the codec (stun-codec.ts, on the
 * `stun` package) is loaded only by the nodes and lighthouses that speak STUN.
 */

export const STUN_HEADER_LEN = 20;
export const STUN_TRANSACTION_ID_LEN = 12;

/** The class bits of the message type (RFC 5389 §6): 0b00 request, 0b10 success response. */
const CLASS_MASK = 0x0110;

export function looksLikeStun(data: Uint8Array): boolean {
  return (
    data.length >= STUN_HEADER_LEN &&
    (data[0]! & 0xc0) === 0 &&
    data[4] === 0x21 &&
    data[5] === 0x12 &&
    data[6] === 0xa4 &&
    data[7] === 0x42
  );
}

/** Cheap pre-dispatch: a STUN message of the request class (any method). */
export function isStunRequest(data: Uint8Array): boolean {
  return looksLikeStun(data) && (((data[0]! << 8) | data[1]!) & CLASS_MASK) === 0;
}

