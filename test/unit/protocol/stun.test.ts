import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeStun, encodeBindingRequest, encodeBindingSuccess, newTransactionId, StunDecodeError } from '../../../src/protocol/stun-codec.js';
import { isStunRequest, looksLikeStun } from '../../../src/protocol/stun.js';

describe('STUN codec', () => {
  it('encodes a Binding request that decodes to the same transaction', () => {
    const id = newTransactionId();
    const request = encodeBindingRequest(id);
    assert.equal(request.length, 20);
    assert.equal(request.readUInt16BE(0), 0x0001, 'Binding request type');
    assert.equal(request.readUInt32BE(4), 0x2112a442, 'magic cookie');
    assert.deepEqual(request.subarray(8), id);
    assert.ok(looksLikeStun(request));
    assert.ok(isStunRequest(request));
    assert.deepEqual(decodeStun(request), { kind: 'binding-request', transactionId: id });
  });

  it('round-trips a Binding success with XOR-MAPPED-ADDRESS and OTHER-ADDRESS', () => {
    const id = newTransactionId();
    const response = encodeBindingSuccess(id, { address: '203.0.113.7', port: 51820 }, { address: '0.0.0.0', port: 4243 });
    assert.equal(response.readUInt16BE(0), 0x0101);
    assert.equal(isStunRequest(response), false);
    // XOR-MAPPED-ADDRESS (0x0020) carries the port XORed with the cookie's top half, not in clear.
    const attr = response.indexOf(Buffer.from([0x00, 0x20, 0x00, 0x08]), 20);
    assert.ok(attr >= 20);
    assert.equal(response.readUInt16BE(attr + 6), 51820 ^ 0x2112);
    assert.deepEqual(decodeStun(response), {
      kind: 'binding-success',
      transactionId: id,
      mapped: { address: '203.0.113.7', port: 51820 },
      other: { address: '0.0.0.0', port: 4243 },
    });
  });

  it('decodes a response without OTHER-ADDRESS and an IPv6 mapping', () => {
    const id = newTransactionId();
    const message = decodeStun(encodeBindingSuccess(id, { address: '2001:db8::5', port: 4242 }, null));
    assert.equal(message.kind, 'binding-success');
    if (message.kind !== 'binding-success') return;
    assert.deepEqual(message.mapped, { address: '2001:db8::5', port: 4242 });
    assert.equal(message.other, null);
  });

  const request = encodeBindingRequest(newTransactionId());
  const withLength = (data: Buffer, length: number) => {
    const copy = Buffer.from(data);
    copy.writeUInt16BE(length, 2);
    return copy;
  };
  const bad: [string, Buffer][] = [
    ['trailing bytes past the declared length', Buffer.concat([request, Buffer.alloc(4)])],
    ['a declared length longer than the datagram', withLength(request, 8)],
    ['a length that is not a multiple of 4', withLength(Buffer.concat([request, Buffer.alloc(2)]), 2)],
    ['a truncated attribute', withLength(Buffer.concat([request, Buffer.from([0x00, 0x20, 0x00, 0x08])]), 4)],
    ['a Nebula header', Buffer.from('10000000000000010000000000000001', 'hex')],
    ['an indication', Buffer.from([0x00, 0x11, ...request.subarray(2)])],
    ['a Binding success without a mapped address', Buffer.from([0x01, 0x01, ...request.subarray(2)])],
  ];
  for (const [what, data] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(() => decodeStun(data), StunDecodeError);
    });
  }
});
