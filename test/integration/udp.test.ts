/**
 * Batched UDP between two namespaces joined by a bridge that lives in a third namespace (root
 * only; skips with the reason otherwise). Also exercises the NetnsLab helper end to end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/lab/netns.js';
import { within } from '../../src/lab/wait.js';
import { netnsLabOrSkip } from '../helpers/netns-lab.js';

const script = fileURLToPath(new URL('../helpers/udp-echo.js', import.meta.url));
const probe = fileURLToPath(new URL('../helpers/udp-gso-probe.js', import.meta.url));

test('UDP echo across namespaces through a bridge namespace (native batched when built)', { timeout: 60_000 }, async (t) => {
  const lab = netnsLabOrSkip(t);
  if (!lab) return;
  const sw = await lab.namespace('sw');
  const a = await lab.namespace('a');
  const b = await lab.namespace('b');
  const br = await lab.bridge(sw);
  const la = await lab.veth(a, sw);
  const lb = await lab.veth(b, sw);
  await lab.attach(sw, br, la.b);
  await lab.attach(sw, br, lb.b);
  await lab.address(a, la.a, '172.31.20.1/24');
  await lab.address(b, lb.a, '172.31.20.2/24');

  const server = lab.spawn(a, process.execPath, [script, 'server', '172.31.20.1', '4242']);
  let serverErr = '';
  server.stderr!.on('data', (d: Buffer) => (serverErr += d.toString()));
  const lines = createInterface({ input: server.stdout! });
  const [first] = (await within(
    Promise.race([
      once(lines, 'line'),
      once(server, 'exit').then(() => {
        throw new Error(`echo server exited: ${serverErr}`);
      }),
    ]),
    10_000,
    'the echo server saying it is ready',
  )) as [string];
  const ready = JSON.parse(first) as { ready: number; kind: string };
  assert.equal(ready.ready, 4242);

  const count = 40;
  const out = await lab.execOk(b, process.execPath, [script, 'client', '172.31.20.1', '4242', String(count)]);
  const summary = JSON.parse(out) as { kind: string; replies: { from: string; len: number; seq: number }[]; batchSizes: number[] };
  assert.equal(summary.replies.length, count, `replies: ${out}`);
  assert.deepEqual(
    summary.replies.map((r) => r.seq),
    Array.from({ length: count }, (_, i) => i),
  );
  for (const r of summary.replies) {
    assert.equal(r.from, '172.31.20.1:4242');
    assert.equal(r.len, 1200);
  }
  t.diagnostic(`server ${ready.kind}, client ${summary.kind}, client batch sizes ${summary.batchSizes.join(',')}`);

  // Cleanup kills exactly the server PID and removes the namespaces (checked after the lab is gone).
  const pid = server.pid!;
  await lab.cleanup();
  assert.throws(() => process.kill(pid, 0), /ESRCH/);
  const list = await run('ip', ['netns', 'list']);
  assert.doesNotMatch(list.stdout, new RegExp(`mt${lab.id}`));
});

test('UDP GSO the kernel refuses (segment above the path MTU: EMSGSIZE) falls back per socket, reported once, nothing lost', { timeout: 60_000 }, async (t) => {
  const lab = netnsLabOrSkip(t);
  if (!lab) return;
  const ns = await lab.namespace('gso');
  // 1300-byte segments on a 1280-byte MTU: UDP_SEGMENT is refused (EMSGSIZE; EINVAL on older
  // kernels); single datagrams are fragmented and reassembled as without GSO.
  await lab.ip(ns, 'link', 'set', 'lo', 'mtu', '1280');
  const out = await lab.execOk(ns, process.execPath, [probe, '127.0.0.1', '20', '1300']);
  const summary = JSON.parse(out) as {
    offloadsBefore: string[]; offloadsAfter: string[]; accepted: number[]; received: number; intact: number; fallbacks: string[]; txGsoBatches: number; txDatagrams: number;
  };
  assert.deepEqual(summary.offloadsBefore, ['gso', 'gro'], out);
  assert.deepEqual(summary.offloadsAfter, ['gro'], out);
  assert.equal(summary.fallbacks.length, 1, out);
  assert.match(summary.fallbacks[0]!, /UDP GSO refused by the kernel \((Message too long|Invalid argument)\)/);
  assert.deepEqual(summary.accepted, [20, 20], out);
  assert.equal(summary.txGsoBatches, 0, out);
  assert.equal(summary.intact, 40, out);
  assert.equal(summary.received, 40, out);

  // With a normal MTU the same sends go out as GSO runs.
  await lab.ip(ns, 'link', 'set', 'lo', 'mtu', '65536');
  const normal = JSON.parse(await lab.execOk(ns, process.execPath, [probe, '127.0.0.1', '20', '1300'])) as typeof summary;
  assert.deepEqual(normal.fallbacks, []);
  assert.equal(normal.txGsoBatches, 2);
  assert.equal(normal.intact, 40);
});
