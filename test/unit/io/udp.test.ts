import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { bindUdp, type Datagram, type NativeUdpBind, type OutgoingDatagram, type UdpBind } from '../../../src/io/udp.js';
import { tryLoadNative, nativeLoadError } from '../../../src/io/native.js';
import { pollUntil } from '../../../src/lab/wait.js';
import { skipTest } from '../../helpers/skip.js';

const impls = ['native', 'dgram'] as const;

function waitForCount(bind: UdpBind, count: number, timeoutMs = 5000): { batches: Datagram[][]; done: Promise<void> } {
  const batches: Datagram[][] = [];
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out: got ${batches.flat().length}/${count} datagrams`)), timeoutMs);
    bind.onDatagrams((b) => {
      batches.push(b);
      if (batches.flat().length >= count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { batches, done };
}

test('native addon loads (it is built by npm install)', () => {
  assert.ok(tryLoadNative(), `addon failed to load: ${nativeLoadError()?.message}`);
  assert.equal(typeof tryLoadNative()!.Tun, 'function');
  assert.equal(typeof tryLoadNative()!.Udp, 'function');
});

for (const impl of impls) {
  test(`${impl} UDP: a batch of datagrams over loopback arrives intact with the right source`, async (t) => {
    if (impl === 'native' && !tryLoadNative()?.Udp) {
      skipTest(t, `native addon unavailable: ${nativeLoadError()?.message}`);
      return;
    }
    const a = await bindUdp({ host: '127.0.0.1', port: 0, impl });
    const b = await bindUdp({ host: '127.0.0.1', port: 0, impl, readBuffer: 4 << 20 });
    t.after(async () => {
      await a.close();
      await b.close();
    });
    assert.equal(a.kind, impl);
    assert.ok(a.localPort > 0 && b.localPort > 0 && a.localPort !== b.localPort);
    const count = 50;
    const sent = Array.from({ length: count }, (_, i) => {
      const buf = Buffer.alloc(100 + i * 37);
      for (let j = 0; j < buf.length; j++) buf[j] = (i * 7 + j) & 255;
      return buf;
    });
    const { batches, done } = waitForCount(b, count);
    // The sender may reuse its buffers right after send(): scribble over them afterwards.
    const scratch = sent.map((s) => Buffer.from(s));
    a.send(scratch.map((data) => ({ data, to: { address: '127.0.0.1', port: b.localPort } })));
    for (const s of scratch) s.fill(0);
    await done;
    const got = batches.flat();
    assert.equal(got.length, count);
    got.forEach((d, i) => {
      assert.deepEqual(d.from, { address: '127.0.0.1', port: a.localPort });
      assert.ok(d.data.equals(sent[i]!), `datagram ${i} differs`);
    });
    if (impl === 'native') {
      // All 50 were queued before the receiver's poll fired: one recvmmsg batch.
      assert.equal(batches[0]!.length, count, `batch sizes: ${batches.map((b) => b.length)}`);
    }
  });

  test(`${impl} UDP: dual-stack "::" talks to IPv4 peers with plain IPv4 addresses; jumbo datagrams`, async (t) => {
    if (impl === 'native' && !tryLoadNative()?.Udp) {
      skipTest(t, `native addon unavailable: ${nativeLoadError()?.message}`);
      return;
    }
    const dual = await bindUdp({ host: '::', port: 0, impl });
    const v4 = await bindUdp({ host: '0.0.0.0', port: 0, impl });
    t.after(async () => {
      await dual.close();
      await v4.close();
    });
    const jumbo = Buffer.alloc(9001, 0xab);
    const atDual = waitForCount(dual, 2);
    v4.send([
      { data: Buffer.from('ping'), to: { address: '127.0.0.1', port: dual.localPort } },
      { data: jumbo, to: { address: '127.0.0.1', port: dual.localPort } },
    ]);
    await atDual.done;
    const [first, second] = atDual.batches.flat();
    assert.deepEqual(first!.from, { address: '127.0.0.1', port: v4.localPort });
    assert.equal(first!.data.toString(), 'ping');
    assert.ok(second!.data.equals(jumbo));
    const atV4 = waitForCount(v4, 1);
    dual.send([{ data: Buffer.from('pong'), to: first!.from }]);
    await atV4.done;
    assert.equal(atV4.batches[0]![0]!.data.toString(), 'pong');
    assert.equal(atV4.batches[0]![0]!.from.port, dual.localPort);
  });

  test(`${impl} UDP: counts the kernel's drops for a full receive buffer and its own failed sends`, async (t) => {
    if (impl === 'native' && !tryLoadNative()?.Udp) {
      skipTest(t, `native addon unavailable: ${nativeLoadError()?.message}`);
      return;
    }
    const a = await bindUdp({ host: '127.0.0.1', port: 0, impl });
    const b = await bindUdp({ host: '127.0.0.1', port: 0, impl, readBuffer: 4096 });
    t.after(async () => {
      await a.close();
      await b.close();
    });
    const none = { sendBufferFull: 0, sendErrors: 0, receiveTruncated: 0 };
    assert.equal(b.kernelDrops(), 0);
    assert.deepEqual(b.drops(), none);
    // b reads only once this test gives the event loop back (native: not at all, it has no handler),
    // after the sends left: its 4 KiB buffer overflows. Sizes grow so that GSO sends, and the
    // kernel counts, one datagram at a time (a GSO run is of equal sizes, and a dropped run counts once).
    const payload = Buffer.alloc(1200);
    a.send(Array.from({ length: 200 }, (_, i) => ({ data: payload.subarray(0, 1000 + i), to: { address: '127.0.0.1', port: b.localPort } })));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(b.kernelDrops() >= 150, `b's socket dropped ${b.kernelDrops()}`);
    assert.equal(a.kernelDrops(), 0);
    // A destination the kernel refuses (the limited broadcast, without SO_BROADCAST).
    a.send([{ data: payload, to: { address: '255.255.255.255', port: 9 } }]);
    await pollUntil(() => a.drops().sendErrors > 0, 2000, () => 'no failed send counted', 10);
    assert.deepEqual(a.drops(), { ...none, sendErrors: 1 });
    assert.deepEqual(b.drops(), none);
  });

  test(`${impl} UDP: bind errors are clear; close is idempotent and stops sending`, async (t) => {
    if (impl === 'native' && !tryLoadNative()?.Udp) {
      skipTest(t, `native addon unavailable: ${nativeLoadError()?.message}`);
      return;
    }
    const a = await bindUdp({ host: '127.0.0.1', port: 0, impl });
    await assert.rejects(bindUdp({ host: '127.0.0.1', port: a.localPort, impl }), /EADDRINUSE|address already in use/i);
    // An address no interface has (TEST-NET-1) and one that is not an address: a JS Error each, the process goes on.
    await assert.rejects(bindUdp({ host: '192.0.2.1', port: 0, impl }), /EADDRNOTAVAIL|cannot assign/i);
    await assert.rejects(bindUdp({ host: '999.1.1.1', port: 0, impl }), Error);
    await a.close();
    await a.close();
    assert.throws(() => a.send([{ data: Buffer.from('x'), to: { address: '127.0.0.1', port: 9 } }]), /closed/);
  });
}

test('native UDP: sendmmsg counts bad destinations without failing the batch', async (t) => {
  if (!tryLoadNative()?.Udp) {
    skipTest(t, `native addon unavailable: ${nativeLoadError()?.message}`);
    return;
  }
  // 64 KiB: below every kernel's rmem_max/wmem_max, so the size takes effect without root or sysctl.
  const a = await bindUdp({ host: '127.0.0.1', port: 0, impl: 'native', readBuffer: 1 << 16, writeBuffer: 1 << 16 });
  const b = await bindUdp({ host: '127.0.0.1', port: 0, impl: 'native' });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  assert.equal(a.kind, 'native');
  if (a.kind !== 'native') return;
  const { done, batches } = waitForCount(b, 2);
  const n = a.send([
    { data: Buffer.from('ok1'), to: { address: '127.0.0.1', port: b.localPort } },
    { data: Buffer.from('bad'), to: { address: 'not-an-ip', port: b.localPort } },
    { data: Buffer.from('v6'), to: { address: '::1', port: b.localPort } },
    { data: Buffer.from('ok2'), to: { address: '127.0.0.1', port: b.localPort } },
  ]);
  assert.equal(n, 2);
  await done;
  assert.deepEqual(batches.flat().map((d) => d.data.toString()), ['ok1', 'ok2']);
  const stats = a.stats();
  assert.equal(stats.txErrors, 2);
  assert.equal(stats.txDatagrams, 2);
  // Linux reports twice the size asked for (the other half is its bookkeeping).
  assert.equal(stats.recvBufferSize, 1 << 17);
  assert.equal(stats.sendBufferSize, 1 << 17);
});

test('native UDP GSO and GRO: runs of equal datagrams leave as one message and arrive split, in order, with or without GRO', async (t) => {
  if (!tryLoadNative()?.Udp) return skipTest(t, `native addon unavailable: ${nativeLoadError()?.message}`);
  const sender = (await bindUdp({ host: '127.0.0.1', port: 0, impl: 'native' })) as NativeUdpBind;
  const withGro = (await bindUdp({ host: '127.0.0.1', port: 0, impl: 'native', readBuffer: 4 << 20 })) as NativeUdpBind;
  const withoutGro = (await bindUdp({ host: '127.0.0.1', port: 0, impl: 'native', readBuffer: 4 << 20, offload: false })) as NativeUdpBind;
  t.after(async () => {
    await sender.close();
    await withGro.close();
    await withoutGro.close();
  });
  assert.deepEqual(sender.offloads, ['gso', 'gro']);
  assert.deepEqual(withoutGro.offloads, []);
  // Per destination: 100 sealed-packet-sized datagrams (several GSO runs of at most 64), a shorter
  // one that ends a run, then more; the two destinations interleave in blocks.
  const sizes = [...Array<number>(100).fill(1332), 500, ...Array<number>(10).fill(1332), 1332, 77];
  const make = (dest: number, i: number): Buffer => {
    const buf = Buffer.alloc(sizes[i]!);
    for (let j = 0; j < buf.length; j++) buf[j] = (dest * 101 + i * 7 + j) & 255;
    return buf;
  };
  const expected = [0, 1].map((dest) => sizes.map((_, i) => make(dest, i)));
  const got = [waitForCount(withGro, sizes.length), waitForCount(withoutGro, sizes.length)];
  const out: OutgoingDatagram[] = [];
  for (let start = 0; start < sizes.length; start += 40) {
    for (const [dest, bind] of [withGro, withoutGro].entries()) {
      for (let i = start; i < Math.min(start + 40, sizes.length); i++) out.push({ data: expected[dest]![i]!, to: { address: '127.0.0.1', port: bind.localPort } });
    }
  }
  assert.equal(sender.send(out), out.length);
  await Promise.all(got.map((g) => g.done));
  for (const dest of [0, 1]) {
    const datagrams = got[dest]!.batches.flat();
    assert.equal(datagrams.length, sizes.length);
    datagrams.forEach((d, i) => {
      assert.deepEqual(d.from, { address: '127.0.0.1', port: sender.localPort });
      assert.ok(d.data.equals(expected[dest]![i]!), `destination ${dest}, datagram ${i}: ${d.data.length} bytes, expected ${sizes[i]}`);
    });
  }
  const sent = sender.stats();
  assert.ok(sent.txGsoBatches >= 6 && sent.txGsoBatches < out.length / 10, `GSO messages: ${sent.txGsoBatches}`);
  assert.equal(sent.txDatagrams, out.length);
  assert.ok(withGro.stats().rxGroBatches >= 1, 'loopback keeps GSO runs whole for a GRO socket');
  assert.equal(withoutGro.stats().rxGroBatches, 0);
  assert.equal(withGro.stats().rxDatagrams, sizes.length);
});

test('native UDP: a callback that throws is reported as an uncaught exception and the socket reads on; closing and dropping the socket inside its callback, with a GC there, is safe', async (t) => {
  if (!tryLoadNative()?.Udp) return skipTest(t, `native addon unavailable: ${nativeLoadError()?.message}`);
  // In a child process: an uncaught exception there is the expected outcome, not a failure of this runner.
  const script = `
    const { tryLoadNative } = await import(${JSON.stringify(new URL('../../../src/io/native.js', import.meta.url).href)});
    const { Udp } = tryLoadNative();
    const seen = [];
    const sender = new Udp('127.0.0.1', 0, 0, 0, 1, 9216, false);
    let closing = new Udp('127.0.0.1', 0, 0, 0, 64, 9216, false);
    const closingPort = closing.localPort;
    const throwing = new Udp('127.0.0.1', 0, 0, 0, 64, 9216, false);
    let reads = 0;
    const send = (port) => sender.send([Buffer.from('x')], ['127.0.0.1'], [port]);
    const finish = () => { process.stdout.write(JSON.stringify({ seen, reads })); process.exit(0); };
    process.on('uncaughtException', (err) => {
      seen.push(err.message);
      if (seen.length === 1) send(throwing.localPort);
      else if (seen.length === 2) setTimeout(() => send(throwing.localPort), 10);
      else finish();
    });
    closing.start(() => {
      closing.close();
      closing = null;
      globalThis.gc();
      globalThis.gc();
      throw new Error('closed and dropped, then thrown');
    });
    throwing.start(() => {
      reads++;
      throw new Error('thrown by read ' + reads);
    });
    send(closingPort);
    setTimeout(() => { process.stdout.write(JSON.stringify({ seen, reads, timedOut: true })); process.exit(3); }, 5000);
  `;
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(child.signal, null, `the child died of a signal: ${child.stderr}`);
  assert.equal(child.status, 0, `${child.stdout}\n${child.stderr}`);
  assert.deepEqual(JSON.parse(child.stdout), { seen: ['closed and dropped, then thrown', 'thrown by read 1', 'thrown by read 2'], reads: 2 });
});

test('native UDP: the read buffers (batch x 64 KiB with GRO) become resident only where datagrams land', async (t) => {
  if (!tryLoadNative()?.Udp) return skipTest(t, `native addon unavailable: ${nativeLoadError()?.message}`);
  // A fresh process, so that the anonymous memory it counts is this socket's.
  const script = `import { readFileSync } from 'node:fs';
const { bindUdp } = await import(${JSON.stringify(new URL('../../../src/io/udp.js', import.meta.url).href)});
const rssAnonKb = () => Number(/^RssAnon:\\s+(\\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const sender = await bindUdp({ host: '127.0.0.1', port: 0, impl: 'native' });
const receiver = await bindUdp({ host: '127.0.0.1', port: 0, impl: 'native' });
const before = rssAnonKb();
const got = new Promise((resolve) => receiver.onDatagrams(resolve));
sender.send([{ data: Buffer.from('one small datagram'), to: { address: '127.0.0.1', port: receiver.localPort } }]);
await got;
console.log(JSON.stringify({ offloads: receiver.offloads, grewKb: rssAnonKb() - before }));
await sender.close();
await receiver.close();`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  const { offloads, grewKb } = JSON.parse(run.stdout) as { offloads: string[]; grewKb: number };
  if (!offloads.includes('gro')) return skipTest(t, 'no UDP GRO here: the read buffers are small anyway');
  // 64 x 64 KiB = 4 MiB of buffers: a zeroing allocation would make all of it resident. Under
  // AddressSanitizer (the sanitized run preloads it) the allocator's own metadata and shadow add
  // about 500 KiB (944-972 KiB grown in 10 runs, against 444-456 without).
  const boundKb = /libasan/.test(process.env.LD_PRELOAD ?? '') ? 2048 : 1024;
  assert.ok(grewKb < boundKb, `anonymous memory grew by ${grewKb} KiB`);
});
