import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { Datagram } from '../../../src/io/udp.js';
import { Diagnostics } from '../../../src/node/diagnostics.js';
import { consumeDatagrams, STAGE1_PER_BATCH, type OutsideNode } from '../../../src/node/outside.js';
import { encodeHeader, MessageType } from '../../../src/protocol/header.js';
import { SourceLimiter, STAGE1_BURST, STAGE1_PER_SECOND } from '../../../src/node/source-limiter.js';

test('a batch handles its tunnel traffic first, then at most STAGE1_PER_BATCH handshake message 1s', () => {
  const order: string[] = [];
  const diag = new Diagnostics(pino({ level: 'silent' }));
  const node = {
    diag,
    isOverlayAddress: () => false,
    hostmap: { getByIndex: (index: number) => (order.push(`lookup ${index}`), undefined) },
    handshakes: { admitStage1: () => true, handleStage1: (data: Buffer) => order.push(`stage1 ${data.readUInt32BE(4)}`), handleStage2: () => order.push('stage2') },
    sendRecvError: () => {},
    writeToTun: () => {},
  } as unknown as OutsideNode;
  const from = { address: '192.0.2.9', port: 4242 };
  const message1 = (tag: number) => Buffer.concat([encodeHeader(MessageType.Handshake, 0, tag, 1), Buffer.alloc(64)]);
  const data = (index: number) => Buffer.concat([encodeHeader(MessageType.Message, 0, index, 5), Buffer.alloc(32)]);
  const batch: Datagram[] = [message1(1), data(100), message1(2), data(101)].map((d) => ({ data: d, from }));
  for (let i = 0; i < 40; i++) batch.push({ data: message1(10 + i), from });
  consumeDatagrams(node, batch);
  assert.deepEqual(order.slice(0, 2), ['lookup 100', 'lookup 101'], 'tunnel traffic before any handshake work');
  const handled = order.filter((o) => o.startsWith('stage1'));
  assert.equal(handled.length, STAGE1_PER_BATCH);
  assert.deepEqual(handled.slice(0, 2), ['stage1 1', 'stage1 2'], 'in arrival order');
  assert.equal(diag.stats.dropped['handshake1-overload'], 42 - STAGE1_PER_BATCH);
});

test("a batch's handshake slots go to admitted message 1s: a flood from one address does not crowd out another's", () => {
  const handled: string[] = [];
  const diag = new Diagnostics(pino({ level: 'silent' }));
  const limiter = new SourceLimiter(STAGE1_PER_SECOND, STAGE1_BURST);
  const node = {
    diag,
    isOverlayAddress: () => false,
    handshakes: {
      admitStage1: (from: { address: string }) => limiter.allow(from.address, 0) || (diag.drop('handshake1-rate', null), false),
      handleStage1: (_data: Buffer, from: { address: string }) => handled.push(from.address),
    },
    writeToTun: () => {},
  } as unknown as OutsideNode;
  const attacker = { address: '198.51.100.66', port: 1 };
  const genuine = { address: '192.0.2.7', port: 4242 };
  const message1 = () => Buffer.concat([encodeHeader(MessageType.Handshake, 0, 0, 1), Buffer.alloc(64)]);
  // The attacker's bucket is spent by earlier batches; then a batch where its message 1s come first.
  for (let i = 0; i < STAGE1_BURST; i++) consumeDatagrams(node, [{ data: message1(), from: attacker }]);
  handled.length = 0;
  const batch: Datagram[] = Array.from({ length: 63 }, () => ({ data: message1(), from: attacker }));
  batch.push({ data: message1(), from: genuine });
  consumeDatagrams(node, batch);
  assert.deepEqual(handled, [genuine.address]);
  assert.equal(diag.stats.dropped['handshake1-rate'], 63);
});
