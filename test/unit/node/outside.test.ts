import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { Datagram } from '../../../src/io/udp.js';
import { Diagnostics } from '../../../src/node/diagnostics.js';
import { consumeDatagrams, STAGE1_PER_BATCH, type OutsideNode } from '../../../src/node/outside.js';
import { encodeHeader, MessageType } from '../../../src/protocol/header.js';

test('a batch handles its tunnel traffic first, then at most STAGE1_PER_BATCH handshake message 1s', () => {
  const order: string[] = [];
  const diag = new Diagnostics(pino({ level: 'silent' }));
  const node = {
    diag,
    isOverlayAddress: () => false,
    hostmap: { getByIndex: (index: number) => (order.push(`lookup ${index}`), undefined) },
    handshakes: { handleStage1: (data: Buffer) => order.push(`stage1 ${data.readUInt32BE(4)}`), handleStage2: () => order.push('stage2') },
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
