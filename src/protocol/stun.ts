/**
 * Telling STUN (RFC 5389) from Nebula on one UDP port: a STUN message starts with two zero bits and
 * carries the magic cookie at bytes 4-7, while every Nebula 1.6 header starts with version 1
 * (byte 0 is 0x10-0x16). A Nebula node reads a STUN request as handshake subtype 1, which it ignores.
 */
export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_HEADER_LEN = 20;

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
