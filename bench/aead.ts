/**
 * Per-packet AEAD cost in process: the native OpenSSL path against node:crypto, per cipher, sealing
 * and opening transport packets (16-byte header as AD) of --size bytes. No root, no network.
 *
 *   node dist/bench/aead.js [--size 1300] [--packets 200000]
 */
import { openSslAeadFactory } from '../src/io/openssl-aead.js';
import { createAead, type AeadFactory, type CipherName } from '../src/protocol/aead.js';
import { encodeHeader } from '../src/protocol/header.js';
import { benchArgs } from './args.js';

const values = benchArgs('usage: node dist/bench/aead.js [--size 1300] [--packets 200000]', { options: { size: { type: 'string', default: '1300' }, packets: { type: 'string', default: '200000' } } });
const size = Number(values.size);
const packets = Number(values.packets);
if (!Number.isInteger(size) || size < 0 || !Number.isInteger(packets) || packets < 1) throw new Error('--size and --packets must be integers');

function nsPerPacket(run: () => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < packets; i++) run();
  return Number(process.hrtime.bigint() - start) / packets;
}

function measure(make: AeadFactory, cipher: CipherName): { seal: number; open: number } {
  const key = Buffer.alloc(32, 7);
  const sender = make(cipher, key);
  const receiver = make(cipher, key);
  const plaintext = Buffer.alloc(size, 3);
  let counter = 0;
  const seal = nsPerPacket(() => {
    counter++;
    sender.encryptPacket(encodeHeader(1, 0, 42, counter), counter, plaintext);
  });
  const packet = sender.encryptPacket(encodeHeader(1, 0, 42, 1), 1, plaintext);
  const open = nsPerPacket(() => {
    if (!receiver.decryptPacket(packet, 1)) throw new Error('packet did not authenticate');
  });
  return { seal, open };
}

const openssl = openSslAeadFactory();
const implementations: [string, AeadFactory][] = [['node:crypto', createAead]];
if (openssl) implementations.push(['openssl-native', openssl]);
console.log(`${size}-byte payloads, ${packets} packets per figure${openssl ? '' : '; the native addon is not available'}`);
console.log('| cipher | implementation | seal ns/packet | open ns/packet |');
console.log('|---|---|---:|---:|');
for (const cipher of ['aes', 'chachapoly'] as const) {
  for (const [name, make] of implementations) {
    // One warm-up pass so both are measured with optimised code.
    measure(make, cipher);
    const { seal, open } = measure(make, cipher);
    console.log(`| ${cipher} | ${name} | ${seal.toFixed(0)} | ${open.toFixed(0)} |`);
  }
}
