import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryNetwork, MemoryTun, type MemoryPacket } from '../../../src/io/memory.js';
import type { Datagram } from '../../../src/io/udp.js';
import { parseCidr } from '../../../src/net/ipv4.js';

function collect(bind: { onDatagrams(h: (b: Datagram[]) => void): void }): Datagram[][] {
  const batches: Datagram[][] = [];
  bind.onDatagrams((b) => batches.push(b));
  return batches;
}

test('MemoryNetwork delivers asynchronously, in order, one batch per flush, with the sender as source', async () => {
  const net = new MemoryNetwork();
  const a = net.bind('10.0.0.1', 4242);
  const b = net.bind('10.0.0.2', 4242);
  const got = collect(b);
  const buf = Buffer.from('one');
  a.send([
    { data: buf, to: { address: '10.0.0.2', port: 4242 } },
    { data: Buffer.from('two'), to: { address: '10.0.0.2', port: 4242 } },
  ]);
  a.send([{ data: Buffer.from('three'), to: { address: '10.0.0.2', port: 4242 } }]);
  buf.write('XXX'); // the sender may reuse its buffer at once
  assert.equal(got.length, 0, 'delivery must not be synchronous');
  await net.settle();
  assert.equal(got.length, 1, 'datagrams sent in one turn arrive as one batch');
  assert.deepEqual(
    got[0]!.map((d) => d.data.toString()),
    ['one', 'two', 'three'],
  );
  for (const d of got[0]!) assert.deepEqual(d.from, { address: '10.0.0.1', port: 4242 });
  assert.deepEqual(
    net.traffic.map((r) => r.verdict),
    ['delivered', 'delivered', 'delivered'],
  );
});

test('MemoryNetwork hooks can drop, rewrite and observe datagrams', async () => {
  const net = new MemoryNetwork();
  const a = net.bind('10.0.0.1', 1000);
  const b = net.bind('10.0.0.2', 2000);
  const c = net.bind('10.0.0.3', 3000);
  const gotB = collect(b);
  const gotC = collect(c);
  const seen: string[] = [];
  net.onTraffic((r) => seen.push(`${r.sent.data.toString()}:${r.verdict}`));
  const removeDrop = net.addHook(function dropSecret(p) {
    return p.data.toString() === 'secret' ? null : p;
  });
  net.addHook((p): MemoryPacket | undefined => {
    if (p.data.toString() === 'redirect') return { ...p, to: { address: '10.0.0.3', port: 3000 }, data: Buffer.from('redirected') };
    return undefined; // unchanged
  });
  const to = { address: '10.0.0.2', port: 2000 };
  a.send([
    { data: Buffer.from('hello'), to },
    { data: Buffer.from('secret'), to },
    { data: Buffer.from('redirect'), to },
    { data: Buffer.from('nobody'), to: { address: '10.0.0.9', port: 1 } },
  ]);
  await net.settle();
  assert.deepEqual(gotB.flat().map((d) => d.data.toString()), ['hello']);
  assert.deepEqual(gotC.flat().map((d) => d.data.toString()), ['redirected']);
  assert.deepEqual(seen, ['hello:delivered', 'secret:dropped', 'redirect:delivered', 'nobody:unreachable']);
  assert.equal(net.traffic[1]!.droppedBy, 'dropSecret');
  removeDrop();
  a.send([{ data: Buffer.from('secret'), to }]);
  await net.settle();
  assert.deepEqual(gotB.flat().map((d) => d.data.toString()), ['hello', 'secret']);
});

test('MemoryNetwork replies from handlers, port allocation, wildcard binds, queueing before a handler', async () => {
  const net = new MemoryNetwork({ record: false });
  const server = net.bind('0.0.0.0', 53);
  const client = net.bind('10.0.0.5');
  assert.ok(client.localPort > 0);
  assert.throws(() => net.bind('0.0.0.0', 53), /EADDRINUSE/);
  client.send([{ data: Buffer.from('early'), to: { address: '10.1.2.3', port: 53 } }]);
  await net.settle();
  // No handler yet on the server: the datagram waits like in a socket buffer.
  server.onDatagrams((batch) => server.send(batch.map((d) => ({ data: Buffer.concat([Buffer.from('re:'), d.data]), to: d.from }))));
  const replies = collect(client);
  await net.settle();
  await new Promise((r) => setImmediate(r));
  await net.settle();
  assert.deepEqual(replies.flat().map((d) => d.data.toString()), ['re:early']);
  assert.deepEqual(replies[0]![0]!.from, { address: '0.0.0.0', port: 53 });
  assert.equal(net.traffic.length, 0, 'record: false keeps no log');
});

test('MemoryNetwork close stops delivery and frees the port', async () => {
  const net = new MemoryNetwork();
  const a = net.bind('10.0.0.1', 1);
  const b = net.bind('10.0.0.2', 2);
  const got = collect(b);
  a.send([{ data: Buffer.from('x'), to: { address: '10.0.0.2', port: 2 } }]);
  await b.close();
  await net.settle();
  assert.equal(got.length, 0);
  assert.equal(net.traffic[0]!.verdict, 'unreachable');
  assert.throws(() => b.send([]), /closed/);
  const again = net.bind('10.0.0.2', 2);
  assert.equal(again.localPort, 2);
  await b.close(); // idempotent
});

test('MemoryNetwork latency delays delivery', (t) => {
  // The clock is mocked: delivery happens when 30 ms have passed on it, not before.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const net = new MemoryNetwork({ latencyMs: 30 });
  const a = net.bind('10.0.0.1', 1);
  const b = net.bind('10.0.0.2', 2);
  const got = collect(b);
  a.send([{ data: Buffer.from('x'), to: { address: '10.0.0.2', port: 2 } }]);
  t.mock.timers.tick(29);
  assert.equal(got.length, 0);
  t.mock.timers.tick(1);
  assert.equal(got.length, 1);
});

test('MemoryTun: inject delivers one async batch, writes are observable, routes and close', async () => {
  const tun = new MemoryTun({ name: 'mt0', mtu: 1400, address: parseCidr('10.9.0.1/24') });
  assert.equal(tun.name, 'mt0');
  assert.equal(tun.mtu, 1400);
  const batches: Buffer[][] = [];
  const src = Buffer.from([0x45, 1, 2]);
  tun.inject([src, Buffer.from([0x45, 3])]); // before a handler: kept until one is set
  src[1] = 99;
  tun.onPackets((p) => batches.push(p));
  assert.equal(batches.length, 0);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0]!.map((b) => [...b]), [[0x45, 1, 2], [0x45, 3]]);

  const next = tun.nextWritten();
  const out = Buffer.from([0x45, 7]);
  assert.equal(tun.write([out]), 1);
  out[1] = 0;
  assert.deepEqual([...(await next)[0]!], [0x45, 7]);
  assert.deepEqual(tun.takeWritten().map((b) => [...b]), [[0x45, 7]]);
  assert.equal(tun.written.length, 0);

  tun.addRoute({ cidr: parseCidr('10.50.0.0/16'), mtu: 1200 });
  tun.addRoute({ cidr: parseCidr('10.50.0.0/16'), mtu: 1100 }); // replaces
  tun.addRoute({ cidr: parseCidr('10.60.0.0/16'), metric: 3 });
  assert.deepEqual(tun.routes.map((r) => [r.cidr.bits, r.mtu, r.metric]), [[16, 1100, undefined], [16, undefined, 3]]);
  tun.removeRoute({ cidr: parseCidr('10.60.0.0/16') });
  assert.throws(() => tun.removeRoute({ cidr: parseCidr('10.70.0.0/16') }), /ESRCH/);
  assert.equal(tun.routes.length, 1);

  tun.close();
  assert.throws(() => tun.write([out]), /closed/);
  tun.inject([Buffer.from([0x45])]);
  await new Promise((r) => setImmediate(r));
  assert.equal(batches.length, 1, 'nothing delivered after close');
});
