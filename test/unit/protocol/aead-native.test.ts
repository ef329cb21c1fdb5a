import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openSslAeadFactory, selectAead } from '../../../src/io/openssl-aead.js';
import { createAead as createNodeCryptoAead, type AeadFactory, type CipherName } from '../../../src/protocol/aead.js';
import { encodeHeader } from '../../../src/protocol/header.js';
import { skipOption } from '../../helpers/skip.js';

const ciphers: CipherName[] = ['aes', 'chachapoly'];
const native = openSslAeadFactory();
const skip = skipOption(!native && 'the native addon is not built');
const createAead: AeadFactory = (cipher, key) => native!(cipher, key);

/** Counters across the ranges where the two nonce encodings differ: small, 32-bit edges, 2^53 - 1. */
function randomCounter(): number {
  switch (randomInt(4)) {
    case 0:
      return randomInt(1, 1000);
    case 1:
      return 0xffff_ffff + randomInt(-2, 3);
    case 2:
      return randomInt(2 ** 32, 2 ** 47);
    default:
      return Number.MAX_SAFE_INTEGER - randomInt(3);
  }
}

describe('native OpenSSL AEAD against node:crypto', { skip }, () => {
  it('is what the composition root picks unless node:crypto is asked for', () => {
    assert.equal(selectAead(true).name, 'openssl-native');
    assert.equal(selectAead(false).name, 'node-crypto');
    assert.equal(selectAead(false).factory, createNodeCryptoAead);
  });

  for (const cipher of ciphers) {
    describe(cipher, () => {
      it('produces the same packets and plaintexts byte for byte (random keys, counters, lengths)', () => {
        for (let round = 0; round < 40; round++) {
          const key = randomBytes(32);
          const native = createAead(cipher, key);
          const reference = createNodeCryptoAead(cipher, key);
          // The same objects seal many packets: the per-packet nonce reset must not leak state.
          for (let i = 0; i < 10; i++) {
            const counter = randomCounter();
            const header = encodeHeader(1, 0, randomInt(2 ** 32), counter);
            const pt = randomBytes(randomInt(0, 2000));
            const packet = native.encryptPacket(header, counter, pt);
            assert.deepEqual(packet, reference.encryptPacket(header, counter, pt));
            assert.deepEqual(native.decryptPacket(packet, counter), pt);
            assert.deepEqual(reference.decryptPacket(packet, counter), pt);

            const ad = randomBytes(randomInt(0, 100));
            const sealed = native.seal(counter, ad, pt);
            assert.deepEqual(sealed, reference.seal(counter, ad, pt));
            assert.deepEqual(native.open(counter, ad, sealed), pt);
          }
        }
      });

      it('keeps many tunnels apart, interleaved, while they share this thread\'s context and after each has its own', () => {
        // Until 32 calls in a row within 1 s, a direction uses one shared context keyed per call (native/src/aead.cc,
        // kBusyCalls); interleaving tunnels of both ciphers makes every call re-key it.
        const tunnels = Array.from({ length: 12 }, (_, i) => {
          const key = randomBytes(32);
          const c: CipherName = i % 3 === 0 ? (cipher === 'aes' ? 'chachapoly' : 'aes') : cipher;
          return { native: createAead(c, key), reference: createNodeCryptoAead(c, key) };
        });
        for (let step = 0; step < 12 * 80; step++) {
          const { native, reference } = tunnels[randomInt(tunnels.length)]!;
          const counter = randomCounter();
          const header = encodeHeader(1, 0, randomInt(2 ** 32), counter);
          const pt = randomBytes(randomInt(0, 300));
          const packet = native.encryptPacket(header, counter, pt);
          assert.deepEqual(packet, reference.encryptPacket(header, counter, pt));
          assert.deepEqual(native.decryptPacket(packet, counter), pt);
          const bad = Buffer.from(packet);
          bad[bad.length - 1]! ^= 1;
          assert.equal(native.decryptPacket(bad, counter), null);
        }
      });

      it('works on views into larger buffers (as packets of a received batch are)', () => {
        const key = randomBytes(32);
        const native = createAead(cipher, key);
        const reference = createNodeCryptoAead(cipher, key);
        const backing = randomBytes(3000);
        const header = backing.subarray(5, 21);
        const pt = backing.subarray(100, 1400);
        const packet = native.encryptPacket(header, 9, pt);
        assert.deepEqual(packet, reference.encryptPacket(header, 9, pt));
        const batch = Buffer.concat([randomBytes(37), packet, randomBytes(11)]);
        const view = batch.subarray(37, 37 + packet.length);
        assert.deepEqual(native.decryptPacket(view, 9), pt);
        assert.deepEqual(native.open(9, view.subarray(0, 16), view.subarray(16)), pt);
      });

      it('rejects what node:crypto rejects: wrong tag, ciphertext, AD, counter or key; truncated input', () => {
        const key = randomBytes(32);
        const native = createAead(cipher, key);
        const reference = createNodeCryptoAead(cipher, key);
        const counter = 77;
        const header = encodeHeader(1, 0, 9, counter);
        const packet = native.encryptPacket(header, counter, randomBytes(300));
        const both = (p: Uint8Array, c: number) => {
          const got = native.decryptPacket(p, c);
          assert.deepEqual(got, reference.decryptPacket(p, c));
          return got;
        };
        for (const at of [0, 15, 16, 200, packet.length - 16, packet.length - 1]) {
          const bad = Buffer.from(packet);
          bad[at]! ^= 0x01;
          assert.equal(both(bad, counter), null, `flipped byte ${at}`);
        }
        assert.equal(both(packet, counter + 1), null);
        assert.equal(createAead(cipher, randomBytes(32)).decryptPacket(packet, counter), null);
        for (const length of [0, 1, 16, 31]) assert.equal(both(packet.subarray(0, length), counter), null, `length ${length}`);
        assert.equal(both(packet.subarray(0, packet.length - 1), counter), null);
        for (const c of [-1, 1.5, Number.NaN, 2 ** 53]) assert.equal(both(packet, c), null, `counter ${c}`);

        assert.equal(native.open(counter, Buffer.alloc(3), Buffer.alloc(15)), null);
        const sealed = native.seal(5, Buffer.from('ad'), Buffer.alloc(0));
        assert.equal(sealed.length, 16);
        assert.deepEqual(native.open(5, Buffer.from('ad'), sealed), Buffer.alloc(0));
        assert.equal(native.open(5, Buffer.from('ae'), sealed), null);
      });

      it('refuses invalid counters and keys when sealing, as node:crypto does', () => {
        const native = createAead(cipher, randomBytes(32));
        for (const c of [-1, 0.5, Number.NaN]) {
          assert.throws(() => native.seal(c, Buffer.alloc(0), Buffer.alloc(1)), RangeError);
          assert.throws(() => createNodeCryptoAead(cipher, randomBytes(32)).seal(c, Buffer.alloc(0), Buffer.alloc(1)), RangeError);
        }
        assert.throws(() => createAead(cipher, randomBytes(31)), RangeError);
        assert.throws(() => native.encryptPacket(Buffer.alloc(15), 1, Buffer.alloc(1)), RangeError);
      });
    });
  }

  it('frees the OpenSSL contexts of dropped objects (no native memory growth)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // 40 packets each way at once: busy, so each object gets its own two contexts.
    const churn = () => {
      for (let i = 0; i < 3_000; i++) {
        const aead = createAead(i % 2 ? 'aes' : 'chachapoly', randomBytes(32));
        for (let n = 1; n <= 40; n++) aead.decryptPacket(aead.encryptPacket(Buffer.alloc(16), n, Buffer.alloc(64)), n);
      }
    };
    // N-API finalizers run from the event loop after a GC, as they would between packet batches.
    const settle = async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      return process.memoryUsage().rss;
    };
    for (let round = 0; round < 2; round++) churn(), await settle();
    const before = await settle();
    for (let round = 0; round < 10; round++) churn(), await settle();
    const after = await settle();
    // Each round makes 3k objects holding ~2 KiB of OpenSSL state: unfreed, 10 rounds add ~60 MiB.
    assert.ok(after - before < 24 * 2 ** 20, `RSS grew by ${((after - before) / 2 ** 20).toFixed(1)} MiB`);
  });
});
