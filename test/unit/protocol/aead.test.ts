import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { createAead, nonceFor, type CipherName } from '../../../src/protocol/aead.js';
import { encodeHeader } from '../../../src/protocol/header.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ciphers: CipherName[] = ['aes', 'chachapoly'];

function nobleSeal(cipher: CipherName, key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, pt: Uint8Array) {
  return cipher === 'aes' ? gcm(key, nonce, ad).encrypt(pt) : chacha20poly1305(key, nonce, ad).encrypt(pt);
}

describe('aead', () => {
  it('builds nonces per cipher (notes §3.1 examples)', () => {
    assert.equal(hex(nonceFor('aes', 3)), '000000000000000000000003');
    assert.equal(hex(nonceFor('chachapoly', 3)), '000000000300000000000000');
    assert.equal(hex(nonceFor('aes', 0x0102030405)), '000000000000000102030405');
    assert.equal(hex(nonceFor('chachapoly', 0x0102030405)), '000000000504030201000000');
    assert.equal(hex(nonceFor('aes', Number.MAX_SAFE_INTEGER)), '00000000001fffffffffffff');
    assert.equal(hex(nonceFor('chachapoly', Number.MAX_SAFE_INTEGER)), '00000000ffffffffffff1f00');
  });

  for (const cipher of ciphers) {
    describe(cipher, () => {
      const key = randomBytes(32);
      const aead = createAead(cipher, key);

      it('encryptPacket matches an independent implementation (noble) and round-trips', () => {
        for (const [counter, len] of [[3, 0], [4, 1], [2 ** 33 + 7, 100], [1000, 1300]] as const) {
          const header = encodeHeader(1, 0, 0xabcdef01, counter);
          const pt = randomBytes(len);
          const packet = aead.encryptPacket(header, counter, pt);
          assert.equal(packet.length, 16 + len + 16);
          assert.equal(hex(packet.subarray(0, 16)), hex(header));
          const expected = nobleSeal(cipher, key, nonceFor(cipher, counter), header, pt);
          assert.equal(hex(packet.subarray(16)), hex(expected));
          assert.equal(hex(aead.decryptPacket(packet, counter)!), hex(pt));
        }
      });

      it('rejects tampering, wrong counter, wrong key, short packets', () => {
        const header = encodeHeader(1, 0, 5, 9);
        const packet = aead.encryptPacket(header, 9, Buffer.from('hello world'));
        assert.equal(aead.decryptPacket(packet, 10), null);
        for (const i of [0, 3, 8, 15, 16, packet.length - 17, packet.length - 1]) {
          const bad = Buffer.from(packet);
          bad[i]! ^= 0x01;
          assert.equal(aead.decryptPacket(bad, 9), null, `byte ${i}`);
        }
        assert.equal(createAead(cipher, randomBytes(32)).decryptPacket(packet, 9), null);
        assert.equal(aead.decryptPacket(packet.subarray(0, 31), 9), null);
        assert.equal(aead.decryptPacket(new Uint8Array(0), 9), null);
        assert.equal(aead.decryptPacket(packet.subarray(0, packet.length - 1), 9), null);
      });

      it('empty plaintext gives header || tag (closeTunnel / test packets)', () => {
        const header = encodeHeader(5, 0, 5, 3);
        const packet = aead.encryptPacket(header, 3, new Uint8Array(0));
        assert.equal(packet.length, 32);
        const pt = aead.decryptPacket(packet, 3);
        assert.ok(pt);
        assert.equal(pt.length, 0);
      });

      it('seal/open with arbitrary AD', () => {
        const ad = randomBytes(77);
        const pt = randomBytes(33);
        const sealed = aead.seal(12, ad, pt);
        assert.equal(hex(sealed), hex(nobleSeal(cipher, key, nonceFor(cipher, 12), ad, pt)));
        assert.equal(hex(aead.open(12, ad, sealed)!), hex(pt));
        assert.equal(aead.open(12, ad.subarray(1), sealed), null);
        assert.equal(aead.open(13, ad, sealed), null);
        assert.equal(aead.open(12, ad, sealed.subarray(0, 15)), null);
        const tagOnly = aead.seal(1, ad, new Uint8Array(0));
        assert.equal(tagOnly.length, 16);
        assert.equal(aead.open(1, ad, tagOnly)?.length, 0);
      });

      it('accepts plain Uint8Array input; invalid counters fail', () => {
        const header = new Uint8Array(encodeHeader(1, 0, 1, 3));
        const packet = aead.encryptPacket(header, 3, new Uint8Array([1, 2, 3]));
        assert.deepEqual([...aead.decryptPacket(new Uint8Array(packet), 3)!], [1, 2, 3]);
        assert.equal(aead.decryptPacket(packet, -1), null);
        assert.equal(aead.decryptPacket(packet, 3.5), null);
      });
    });
  }

  it('validates key length, header length and cipher name', () => {
    assert.throws(() => createAead('aes', new Uint8Array(16)));
    assert.throws(() => createAead('nope' as CipherName, new Uint8Array(32)));
    assert.throws(() => createAead('aes', new Uint8Array(32)).encryptPacket(new Uint8Array(15), 3, new Uint8Array(0)));
  });

  it('aes and chachapoly with the same key produce different packets', () => {
    const key = randomBytes(32);
    const header = encodeHeader(1, 0, 1, 3);
    const a = createAead('aes', key).encryptPacket(header, 3, Buffer.from('x'));
    assert.equal(createAead('chachapoly', key).decryptPacket(a, 3), null);
  });
});
