import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeHeader,
  encodeRecvError,
  HEADER_LEN,
  MessageSubType,
  MessageType,
  parseHeader,
  readU64BE,
  writeHeader,
} from '../../../src/protocol/header.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('header', () => {
  it('encodes the worked examples from the notes', () => {
    assert.equal(hex(encodeHeader(MessageType.Handshake, MessageSubType.IxPsk0, 0, 1)), '10000000000000000000000000000001');
    assert.equal(hex(encodeHeader(MessageType.Handshake, 0, 0x11223344, 2)), '10000000112233440000000000000002');
    assert.equal(hex(encodeHeader(MessageType.Message, MessageSubType.None, 0xdeadbeef, 3)), '11000000deadbeef0000000000000003');
    assert.equal(hex(encodeHeader(MessageType.Message, MessageSubType.Relay, 7, 9)), '11010000000000070000000000000009');
    assert.equal(hex(encodeRecvError(0xdeadbeef)), '12000000deadbeef0000000000000000');
    assert.equal(hex(encodeHeader(MessageType.LightHouse, 0, 1, 4)).slice(0, 2), '13');
    assert.equal(hex(encodeHeader(MessageType.Test, MessageSubType.TestReply, 1, 4)).slice(0, 4), '1401');
    assert.equal(hex(encodeHeader(MessageType.CloseTunnel, 0, 1, 4)).slice(0, 2), '15');
    assert.equal(hex(encodeHeader(MessageType.Control, 0, 1, 4)).slice(0, 2), '16');
  });

  it('writes at an offset and round-trips through parseHeader', () => {
    const buf = new Uint8Array(40).fill(0xaa);
    writeHeader(buf, 10, MessageType.Test, MessageSubType.TestRequest, 0xfedcba98, 2 ** 40 + 5);
    assert.equal(buf[9], 0xaa);
    assert.equal(buf[26], 0xaa);
    const h = parseHeader(buf.subarray(10));
    assert.deepEqual(h, { version: 1, type: 4, subtype: 0, reserved: 0, remoteIndex: 0xfedcba98, counter: 2 ** 40 + 5 });
  });

  it('handles counters up to 2^53-1 exactly', () => {
    for (const c of [0, 1, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER]) {
      const h = parseHeader(encodeHeader(1, 0, 1, c));
      assert.equal(h?.counter, c);
    }
    const b = Buffer.from('1100000000000001ffffffffffffffff', 'hex');
    assert.equal(readU64BE(b, 8), 2 ** 64 - 1); // hi*2^32+lo, imprecise but finite
  });

  it('parses foreign bytes: version not checked, reserved kept', () => {
    const h = parseHeader(Buffer.from('f3ab1234000000010000000000000007ffff', 'hex'));
    assert.deepEqual(h, { version: 15, type: 3, subtype: 0xab, reserved: 0x1234, remoteIndex: 1, counter: 7 });
  });

  it('returns null below 16 bytes', () => {
    assert.equal(parseHeader(new Uint8Array(0)), null);
    assert.equal(parseHeader(new Uint8Array([0])), null);
    assert.equal(parseHeader(new Uint8Array(15)), null);
    assert.notEqual(parseHeader(new Uint8Array(HEADER_LEN)), null);
  });

  it('refuses to write past the end of the buffer', () => {
    assert.throws(() => writeHeader(new Uint8Array(20), 5, 1, 0, 0, 0), RangeError);
  });
});
