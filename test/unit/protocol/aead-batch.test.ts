import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { openSslAeadFactory } from '../../../src/io/openssl-aead.js';
import { createAead as createNodeCryptoAead, type Aead, type AeadFactory, type CipherName } from '../../../src/protocol/aead.js';
import { encodeHeader } from '../../../src/protocol/header.js';
import { skipOption } from '../../helpers/skip.js';

const ciphers: CipherName[] = ['aes', 'chachapoly'];
const native = openSslAeadFactory();
// The batch API of both implementations; node:crypto is also the reference the bytes are compared with.
const impls: [string, AeadFactory | undefined][] = [
  ['node:crypto', createNodeCryptoAead],
  ['native OpenSSL', native],
];

/** Header counters, including those above 2^53 that only the header bytes carry exactly. */
function headerFor(i: number): Buffer {
  const header = encodeHeader(1, 0, randomInt(2 ** 32), randomInt(1, 2 ** 47));
  if (i % 5 === 4) header.set(randomBytes(8), 8);
  return header;
}

interface Layout {
  buf: Buffer;
  offsets: Uint32Array;
  lengths: Uint32Array;
  headers: Buffer[];
  plaintexts: Buffer[];
}

/** `count` packets at random gaps in one buffer: header, plaintext, 16 bytes of room each. */
function layout(count: number, sizes: () => number): Layout {
  const headers: Buffer[] = [];
  const plaintexts: Buffer[] = [];
  const parts: Buffer[] = [];
  const offsets = new Uint32Array(count + 3);
  const lengths = new Uint32Array(count + 3);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const gap = randomBytes(randomInt(0, 40));
    const header = headerFor(i);
    const pt = randomBytes(sizes());
    parts.push(gap, header, pt, randomBytes(16));
    at += gap.length;
    offsets[i] = at;
    lengths[i] = pt.length;
    at += 16 + pt.length + 16;
    headers.push(header);
    plaintexts.push(pt);
  }
  parts.push(randomBytes(randomInt(0, 20)));
  return { buf: Buffer.concat(parts), offsets, lengths, headers, plaintexts };
}

function counterOf(header: Buffer): number {
  return Number(header.readBigUInt64BE(8));
}

for (const [name, factory] of impls) {
  describe(`AEAD batch API, ${name}`, { skip: skipOption(!factory && 'the native addon is not built') }, () => {
    for (const cipher of ciphers) {
      it(`${cipher}: seals a batch in place byte for byte as node:crypto seals each packet, and opens it again`, () => {
        for (let round = 0; round < 20; round++) {
          const key = randomBytes(32);
          const aead: Aead = factory!(cipher, key);
          const reference = createNodeCryptoAead(cipher, key);
          const sizes = [0, 1, 15, 16, 17, 1200, 1300, 9001];
          const l = layout(randomInt(1, 70), () => (randomInt(3) === 0 ? sizes[randomInt(sizes.length)]! : randomInt(0, 1500)));
          const count = l.headers.length;
          const before = Buffer.from(l.buf);
          aead.sealBatch(l.buf, l.offsets, l.lengths, count);
          const datagramLengths = new Uint32Array(count);
          for (let i = 0; i < count; i++) {
            const at = l.offsets[i]!;
            const datagram = l.buf.subarray(at, at + 16 + l.lengths[i]! + 16);
            datagramLengths[i] = datagram.length;
            // Safe counters through the per-packet API; the nonce of larger ones comes from the header bytes only.
            const counter = counterOf(l.headers[i]!);
            if (Number.isSafeInteger(counter)) assert.deepEqual(datagram, reference.encryptPacket(l.headers[i]!, counter, l.plaintexts[i]!), `packet ${i}`);
          }
          // Nothing outside the entries changed (gaps are kept).
          for (let k = 0, i = 0; k < l.buf.length; k++) {
            while (i < count && k >= l.offsets[i]! + 32 + l.lengths[i]!) i++;
            const inside = i < count && k >= l.offsets[i]!;
            if (!inside) assert.equal(l.buf[k], before[k], `byte ${k} outside the entries`);
          }
          // The other implementation opens what this one sealed (cross-check of large counters too).
          for (const opener of [aead, reference]) {
            const copy = Buffer.from(l.buf);
            const results = new Int32Array(count);
            opener.openBatch(copy, l.offsets, datagramLengths, count, results);
            for (let i = 0; i < count; i++) {
              assert.equal(results[i], l.lengths[i], `result ${i}`);
              const at = l.offsets[i]! + 16;
              assert.deepEqual(copy.subarray(at, at + l.lengths[i]!), l.plaintexts[i], `plaintext ${i}`);
            }
          }
        }
      });

      it(`${cipher}: a batch with forged, truncated and short datagrams marks exactly those -1`, () => {
        const key = randomBytes(32);
        const aead = factory!(cipher, key);
        const reference = createNodeCryptoAead(cipher, key);
        const l = layout(12, () => randomInt(0, 300));
        aead.sealBatch(l.buf, l.offsets, l.lengths, 12);
        const lengths = new Uint32Array(12);
        for (let i = 0; i < 12; i++) lengths[i] = l.lengths[i]! + 32;
        l.buf[l.offsets[1]! + 3]! ^= 1; // header (AD)
        l.buf[l.offsets[2]! + lengths[2]! - 1]! ^= 0x80; // tag
        lengths[3] = 31; // shorter than header and tag
        lengths[4] = 16;
        lengths[5] = 0;
        lengths[6] -= 1; // truncated: the tag is read from the wrong place
        if (l.lengths[7]! > 0) l.buf[l.offsets[7]! + 16]! ^= 4; // ciphertext
        const bad = new Set([1, 2, 3, 4, 5, 6, ...(l.lengths[7]! > 0 ? [7] : [])]);
        const results = new Int32Array(12).fill(99);
        const referenceResults = new Int32Array(12);
        const copy = Buffer.from(l.buf);
        aead.openBatch(l.buf, l.offsets, lengths, 12, results);
        reference.openBatch(copy, l.offsets, lengths, 12, referenceResults);
        assert.deepEqual(results, referenceResults);
        for (let i = 0; i < 12; i++) {
          if (bad.has(i)) assert.equal(results[i], -1, `entry ${i}`);
          else {
            assert.equal(results[i], l.lengths[i]);
            assert.deepEqual(l.buf.subarray(l.offsets[i]! + 16, l.offsets[i]! + 16 + l.lengths[i]!), l.plaintexts[i]);
          }
        }
      });
    }

    it('refuses hostile offsets, lengths and counts before touching a byte', () => {
      const aead = factory!('aes', randomBytes(32));
      const buf = randomBytes(200);
      const before = Buffer.from(buf);
      const u32 = (...v: number[]) => Uint32Array.from(v);
      const cases: [Uint32Array, Uint32Array, number][] = [
        [u32(0, 300), u32(10, 10), 2], // second entry starts past the end
        [u32(0, 100), u32(10, 70), 2], // 100 + 16 + 70 + 16 > 200: the last one's tag room
        [u32(0), u32(169), 1], // one byte too long for its tag room
        [u32(0xffff_ffff), u32(0xffff_ffff), 1], // sums that would wrap 32 bits
        [u32(0xffff_fff0), u32(0), 1],
        [u32(0), u32(0), 2], // count above the arrays' lengths
      ];
      for (const [offsets, lengths, count] of cases) {
        assert.throws(() => aead.sealBatch(buf, offsets, lengths, count), RangeError, `seal ${offsets} ${lengths} ${count}`);
        assert.throws(() => aead.openBatch(buf, offsets, lengths.map((n) => n + 33), count, new Int32Array(4)), RangeError, `open ${offsets} ${lengths} ${count}`);
      }
      for (const count of [-1, 1.5, Number.NaN]) assert.throws(() => aead.sealBatch(buf, u32(0), u32(1), count), RangeError);
      assert.throws(() => aead.openBatch(buf, u32(0, 40), u32(32, 32), 2, new Int32Array(1)), RangeError, 'results too short');
      assert.deepEqual(buf, before, 'a refused batch changed nothing');
      // An empty batch is fine.
      aead.sealBatch(buf, u32(), u32(), 0);
      aead.openBatch(buf, u32(), u32(), 0, new Int32Array(0));
      assert.deepEqual(buf, before);
      // The last byte of the buffer may be the last byte of an entry's tag.
      aead.sealBatch(buf, u32(0), u32(168), 1);
    });
  });
}

describe('AEAD batch API, native argument types', { skip: skipOption(!native && 'the native addon is not built') }, () => {
  it('throws TypeError for arrays that are not the typed arrays it needs', () => {
    const aead = native!('chachapoly', randomBytes(32));
    const buf = Buffer.alloc(64);
    const bad = [
      () => aead.sealBatch(buf, [0] as unknown as Uint32Array, Uint32Array.of(1), 1),
      () => aead.sealBatch(buf, Uint32Array.of(0), new Int32Array(1) as unknown as Uint32Array, 1),
      () => aead.sealBatch([] as unknown as Uint8Array, Uint32Array.of(0), Uint32Array.of(1), 1),
      () => aead.openBatch(buf, Uint32Array.of(0), Uint32Array.of(40), 1, new Uint32Array(1) as unknown as Int32Array),
    ];
    for (const call of bad) assert.throws(call, TypeError);
  });
});
