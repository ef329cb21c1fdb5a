import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createAead, nonceFor, type CipherName } from '../../../src/protocol/aead.js';
import { encodeHeader, parseHeader } from '../../../src/protocol/header.js';
import { openRelayFrame, RELAY_OVERHEAD, sealRelayFrame } from '../../../src/protocol/relay-frame.js';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

for (const cipher of ['aes', 'chachapoly'] as CipherName[]) {
  describe(`relay frames (${cipher})`, () => {
    const key = randomBytes(32);
    const hop = createAead(cipher, key);

    it('layout: outer header 1/1 || inner || tag over (outer header || inner) with empty plaintext', () => {
      const inner = Buffer.concat([encodeHeader(0, 0, 0, 1), randomBytes(232)]); // a 248-byte msg1
      const frame = sealRelayFrame(hop, 0xcafe0001, 17, inner);
      assert.equal(frame.length, 280);
      assert.equal(frame.length, inner.length + RELAY_OVERHEAD);
      assert.deepEqual(parseHeader(frame), { version: 1, type: 1, subtype: 1, reserved: 0, remoteIndex: 0xcafe0001, counter: 17 });
      assert.equal(hex(frame.subarray(16, 16 + inner.length)), hex(inner), 'inner is not re-encrypted');
      const ad = frame.subarray(0, frame.length - 16);
      const nonce = nonceFor(cipher, 17);
      const tag = cipher === 'aes' ? gcm(key, nonce, ad).encrypt(new Uint8Array(0)) : chacha20poly1305(key, nonce, ad).encrypt(new Uint8Array(0));
      assert.equal(hex(frame.subarray(frame.length - 16)), hex(tag));
    });

    it('round trip returns the inner packet', () => {
      const inner = randomBytes(1332);
      const frame = sealRelayFrame(hop, 5, 3, inner);
      const out = openRelayFrame(hop, frame, 3);
      assert.ok(out);
      assert.equal(hex(out), hex(inner));
    });

    it('any modification, wrong counter or wrong key fails', () => {
      const inner = randomBytes(64);
      const frame = sealRelayFrame(hop, 5, 3, inner);
      for (let i = 0; i < frame.length; i++) {
        const bad = Buffer.from(frame);
        bad[i]! ^= 0x04;
        assert.equal(openRelayFrame(hop, bad, 3), null, `byte ${i}`);
      }
      assert.equal(openRelayFrame(hop, frame, 4), null);
      assert.equal(openRelayFrame(createAead(cipher, randomBytes(32)), frame, 3), null);
      assert.equal(openRelayFrame(hop, frame.subarray(0, 31), 3), null);
      assert.equal(openRelayFrame(hop, frame.subarray(0, frame.length - 1), 3), null);
    });

    it('works on a frame that is a view into a larger buffer', () => {
      const inner = randomBytes(40);
      const frame = sealRelayFrame(hop, 9, 1000, inner);
      const big = Buffer.concat([randomBytes(7), frame, randomBytes(9)]);
      const view = big.subarray(7, 7 + frame.length);
      assert.equal(hex(openRelayFrame(hop, view, 1000)!), hex(inner));
    });

    it('an empty inner packet still authenticates the header', () => {
      const frame = sealRelayFrame(hop, 9, 4, new Uint8Array(0));
      assert.equal(frame.length, 32);
      assert.equal(openRelayFrame(hop, frame, 4)?.length, 0);
    });
  });
}
