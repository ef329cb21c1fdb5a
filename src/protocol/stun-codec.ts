/**
 * The STUN codec: Binding requests and success responses. Encoding and attribute parsing are the
 * `stun` package's (2.x, quiet for years; only its message codec is used, not its client, server or
 * CLI, which are what need its old dependencies such as `ip`, `parse-url` and `meow`). The framing
 * checks before it are ours (stun.ts), because its decoder accepts trailing bytes after the
 * declared length. Loaded with import() where STUN is used: the package is slow to load.
 */
import { randomBytes } from 'node:crypto';
import stun from 'stun';
import type { Endpoint } from '../net/endpoint.js';
import { looksLikeStun, STUN_HEADER_LEN, STUN_TRANSACTION_ID_LEN } from './stun.js';

const BINDING_REQUEST = stun.constants.STUN_BINDING_REQUEST!;
const BINDING_RESPONSE = stun.constants.STUN_BINDING_RESPONSE!;
const ATTR_OTHER_ADDRESS = stun.constants.STUN_ATTR_OTHER_ADDRESS!;

export type StunMessage =
  | { kind: 'binding-request'; transactionId: Buffer }
  | { kind: 'binding-success'; transactionId: Buffer; mapped: Endpoint; other: Endpoint | null };

export class StunDecodeError extends Error {}

export function newTransactionId(): Buffer {
  return randomBytes(STUN_TRANSACTION_ID_LEN);
}

/**
 * Decodes a STUN message expected to be of one kind; otherwise says which drop counter it belongs
 * to (`stun-malformed`, or `wrongKind` for a well-formed message of the other kind).
 */
export function decodeStunAs<K extends StunMessage['kind']>(
  data: Uint8Array,
  kind: K,
  wrongKind: string,
): { message: Extract<StunMessage, { kind: K }> } | { drop: string; err?: unknown } {
  let message: StunMessage;
  try {
    message = decodeStun(data);
  } catch (err) {
    return { drop: err instanceof StunDecodeError ? 'stun-malformed' : 'stun-error', err };
  }
  if (message.kind !== kind) return { drop: wrongKind };
  return { message: message as Extract<StunMessage, { kind: K }> };
}

/** Decodes a Binding request or Binding success response; anything else throws StunDecodeError. */
export function decodeStun(data: Uint8Array): StunMessage {
  if (!looksLikeStun(data)) throw new StunDecodeError('not a STUN message');
  const bodyLength = (data[2]! << 8) | data[3]!;
  if (bodyLength % 4 !== 0 || STUN_HEADER_LEN + bodyLength !== data.length) {
    throw new StunDecodeError(`bad length: header says ${bodyLength}, datagram has ${data.length - STUN_HEADER_LEN}`);
  }
  let message;
  try {
    message = stun.decode(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  } catch (err) {
    throw new StunDecodeError(`malformed: ${(err as Error).message}`);
  }
  const transactionId = Buffer.from(message.transactionId);
  if (message.type === BINDING_REQUEST) return { kind: 'binding-request', transactionId };
  if (message.type !== BINDING_RESPONSE) throw new StunDecodeError(`unsupported message type 0x${message.type.toString(16)}`);
  const mapped = message.getXorAddress() ?? message.getAddress();
  if (!mapped) throw new StunDecodeError('binding response without a mapped address');
  const other = message.getAttribute(ATTR_OTHER_ADDRESS)?.value as { address: string; port: number } | undefined;
  return {
    kind: 'binding-success',
    transactionId,
    mapped: { address: mapped.address, port: mapped.port },
    other: other ? { address: other.address, port: other.port } : null,
  };
}

export function encodeBindingRequest(transactionId: Buffer): Buffer {
  return stun.encode(stun.createMessage(BINDING_REQUEST, transactionId));
}

/** A Binding success response: XOR-MAPPED-ADDRESS, and OTHER-ADDRESS (RFC 5780) when given. */
export function encodeBindingSuccess(transactionId: Buffer, mapped: Endpoint, other: Endpoint | null): Buffer {
  const response = stun.createMessage(BINDING_RESPONSE, transactionId);
  response.addXorAddress(mapped.address, mapped.port);
  if (other) response.addAttribute(ATTR_OTHER_ADDRESS, other.address, other.port);
  return stun.encode(response);
}
