/**
 * Native TUN device inside a fresh network namespace (root only; skips with the reason otherwise).
 * The TUN is opened by a child agent running in the namespace (test/helpers/tun-agent.ts).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { netnsSkipReason, type NetnsLab } from '../../src/lab/netns.js';
import { netnsLabOrSkip } from '../helpers/netns-lab.js';
import { TunAgent } from '../helpers/tun-agent-client.js';
import { icmpEcho, parseIpv4, tcpSegment, transportChecksumOk, udpPacket } from '../helpers/packets.js';
import type { NativeTunStats } from '../../src/io/native.js';
import { nativeLoadError } from '../../src/io/native.js';

function skipReason(): string | undefined {
  return netnsSkipReason() ?? nativeLoadError()?.message;
}

/** A TUN agent in a fresh namespace "<label>", or undefined after skipping the test (see skipReason). */
async function startAgent(t: TestContext, label: string): Promise<{ lab: NetnsLab; ns: string; agent: TunAgent } | undefined> {
  const lab = netnsLabOrSkip(t, skipReason());
  if (!lab) return undefined;
  const ns = await lab.namespace(label);
  return { lab, ns, agent: await TunAgent.start(lab, ns) };
}

const TUN_IP = '172.31.9.1';
const PEER_IP = '172.31.9.2';

test('native TUN in a namespace: config, batched reads, writes reach the kernel, routes, close', { timeout: 60_000 }, async (t) => {
  const started = await startAgent(t, 'tun');
  if (!started) return;
  const { lab, ns, agent } = started;

  // Open without reading yet, so packets queue in the kernel and arrive as one batch later.
  const opened = await agent.request<{ name: string; mtu: number; offloads: string[] }>('open', {
    name: 'mesh%d',
    mtu: 1300,
    address: `${TUN_IP}/24`,
    txQueueLength: 500,
    routes: [{ cidr: '172.31.50.0/24', mtu: 1200, metric: 7 }],
    listen: false,
  });
  const dev = opened.name;
  assert.match(dev, /^mesh\d+$/, 'kernel picks a name from the pattern');

  await t.test('interface is configured and up', async () => {
    const link = await lab.ip(ns, 'addr', 'show', 'dev', dev);
    assert.match(link, /mtu 1300/);
    assert.match(link, /qlen 500/);
    assert.match(link, /[<,]UP[,>]/);
    assert.match(link, new RegExp(`inet ${TUN_IP.replace(/\./g, '\\.')}/24`));
    const routes = await lab.ip(ns, '-4', 'route', 'show', 'dev', dev);
    assert.match(routes, /172\.31\.9\.0\/24 .*proto kernel/);
    assert.match(routes, /172\.31\.50\.0\/24 .*metric 7 .*mtu 1200/);
  });

  await t.test('packets routed into the TUN arrive in JS, several per batch', async () => {
    const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`datagram-${i}`).toString('hex'));
    await agent.request('udpSend', { to: '172.31.9.7', port: 9999, payloads });
    await agent.request('udpSend', { to: '172.31.50.3', port: 9998, payloads: [Buffer.from('unsafe-route').toString('hex')] });
    await new Promise((r) => setTimeout(r, 300));
    const from = agent.events.length;
    await agent.request('listen');
    const first = await agent.waitFor((e) => e.event === 'packets', 5000, from);
    const batch = (first.packets as string[]).map((h) => parseIpv4(Buffer.from(h, 'hex')));
    const udp = batch.filter((p) => p.udp);
    assert.ok(udp.length >= 11, `expected the 11 queued datagrams in the first batch, got ${batch.length} packets: ${JSON.stringify(batch.map((p) => [p.version, p.dst]))}`);
    const toPeer = udp.filter((p) => p.dst === '172.31.9.7');
    assert.deepEqual(
      toPeer.map((p) => p.udp!.data.toString()),
      Array.from({ length: 10 }, (_, i) => `datagram-${i}`),
    );
    for (const p of toPeer) {
      assert.equal(p.src, TUN_IP);
      assert.equal(p.udp!.dstPort, 9999);
    }
    const viaRoute = udp.find((p) => p.dst === '172.31.50.3');
    assert.equal(viaRoute?.udp?.data.toString(), 'unsafe-route');
  });

  await t.test('an ICMP echo request written into the TUN is answered by the kernel', async () => {
    const from = agent.events.length;
    const written = await agent.request<number>('write', { packets: [icmpEcho(PEER_IP, TUN_IP, 8, 0x1234, 7).toString('hex')] });
    assert.equal(written, 1);
    const ev = await agent.waitFor(
      (e) => e.event === 'packets' && (e.packets as string[]).some((h) => parseIpv4(Buffer.from(h, 'hex')).icmp?.type === 0),
      5000,
      from,
    );
    const reply = (ev.packets as string[]).map((h) => parseIpv4(Buffer.from(h, 'hex'))).find((p) => p.icmp?.type === 0)!;
    assert.equal(reply.src, TUN_IP);
    assert.equal(reply.dst, PEER_IP);
    assert.equal(reply.icmp!.id, 0x1234);
    assert.equal(reply.icmp!.seq, 7);
    assert.equal(reply.icmp!.data.toString(), 'mesh-test');
  });

  await t.test('a UDP packet written into the TUN reaches a socket in the namespace', async () => {
    const port = await agent.request<number>('udpBind', { host: TUN_IP, port: 7000 });
    assert.equal(port, 7000);
    const from = agent.events.length;
    const pkts = [udpPacket(PEER_IP, 5555, TUN_IP, 7000, Buffer.from('hello-1')), udpPacket(PEER_IP, 5555, TUN_IP, 7000, Buffer.from('hello-2'))];
    assert.equal(await agent.request<number>('write', { packets: pkts.map((p) => p.toString('hex')) }), 2);
    const got = await agent.waitFor((e) => e.event === 'udp' && Buffer.from(e.data as string, 'hex').toString() === 'hello-2', 5000, from);
    assert.deepEqual(got.from, { address: PEER_IP, port: 5555 });
    const all = agent.events.slice(from).filter((e) => e.event === 'udp').map((e) => Buffer.from(e.data as string, 'hex').toString());
    assert.deepEqual(all, ['hello-1', 'hello-2']);
  });

  await t.test('offloads: a UDP GSO send routed into the TUN is read as one super-packet and split into checked datagrams', async () => {
    assert.deepEqual(opened.offloads, ['vnet_hdr', 'csum', 'tso4', 'tso6', 'uso4', 'uso6']);
    const before = await agent.request<NativeTunStats>('stats');
    const from = agent.events.length;
    const payloads = Array.from({ length: 8 }, (_, i) => Buffer.alloc(1000, 0x41 + i).toString('hex'));
    const sent = await agent.request<{ accepted: number; txGsoBatches: number }>('udpSendGso', { from: TUN_IP, to: '172.31.9.7', port: 9997, payloads });
    assert.deepEqual(sent, { accepted: 8, txGsoBatches: 1 });
    const isOurs = (h: string): boolean => parseIpv4(Buffer.from(h, 'hex')).udp?.dstPort === 9997;
    await agent.waitFor(() => agent.events.slice(from).flatMap((e) => (e.event === 'packets' ? (e.packets as string[]) : [])).filter(isOurs).length >= 8, 5000, from);
    const datagrams = agent.events.slice(from).flatMap((e) => (e.event === 'packets' ? (e.packets as string[]) : [])).filter(isOurs).map((h) => Buffer.from(h, 'hex'));
    assert.deepEqual(datagrams.map((p) => parseIpv4(p).udp!.data.toString('hex')), payloads);
    for (const p of datagrams) {
      assert.equal(p.length, 1028);
      assert.ok(transportChecksumOk(p), 'UDP checksum completed');
    }
    const after = await agent.request<NativeTunStats>('stats');
    assert.ok(after.rxSuperPackets > before.rxSuperPackets, `the kernel handed over a super-packet: ${JSON.stringify(after)}`);
    assert.equal(after.rxInvalid, 0);
  });

  await t.test('offloads: in-order TCP segments written to the TUN go to the kernel as one super-packet', async () => {
    const before = await agent.request<NativeTunStats>('stats');
    const from = agent.events.length;
    // No socket listens on port 9: the kernel answers the (single, coalesced) segment with a RST.
    const segments = [0, 1, 2].map((i) => tcpSegment(PEER_IP, 5556, TUN_IP, 9, { seq: 1000 + i * 1200, ack: 424242, flags: 0x10, data: Buffer.alloc(1200, i) }));
    assert.equal(await agent.request<number>('write', { packets: segments.map((p) => p.toString('hex')) }), 3);
    const isRst = (h: string): boolean => {
      const p = Buffer.from(h, 'hex');
      return p[9] === 6 && p.readUInt16BE(22) === 5556 && (p[33]! & 0x04) !== 0;
    };
    const ev = await agent.waitFor((e) => e.event === 'packets' && (e.packets as string[]).some(isRst), 5000, from);
    const rst = Buffer.from((ev.packets as string[]).find(isRst)!, 'hex');
    assert.equal(rst.readUInt32BE(24), 424242, 'RST sequence number = our ACK number');
    const after = await agent.request<NativeTunStats>('stats');
    assert.equal(after.txSuperPackets, before.txSuperPackets + 1);
    assert.equal(after.txPackets, before.txPackets + 3);
    assert.equal(after.txErrors, 0, `the kernel accepted the virtio_net_hdr: ${after.lastTxError}`);
  });

  await t.test('routes can be added and removed', async () => {
    await agent.request('addRoute', { route: { cidr: '172.31.60.0/24', metric: 5 } });
    await agent.request('addRoute', { route: { cidr: '172.31.61.0/24', mtu: 1100 } });
    let routes = await lab.ip(ns, '-4', 'route', 'show', 'dev', dev);
    assert.match(routes, /172\.31\.60\.0\/24 .*metric 5/);
    assert.match(routes, /172\.31\.61\.0\/24 .*mtu 1100/);
    await agent.request('removeRoute', { route: { cidr: '172.31.60.0/24', metric: 5 } });
    await agent.request('removeRoute', { route: { cidr: '172.31.61.0/24' } });
    routes = await lab.ip(ns, '-4', 'route', 'show', 'dev', dev);
    assert.doesNotMatch(routes, /172\.31\.60\.0/);
    assert.doesNotMatch(routes, /172\.31\.61\.0/);
    await assert.rejects(agent.request('removeRoute', { route: { cidr: '172.31.62.0/24' } }), /remove route 172\.31\.62\.0\/24 .*No such process|ESRCH/);
  });

  await t.test('opening a second TUN with a name in use fails with a clear error', async () => {
    await assert.rejects(agent.request('open', { name: dev, mtu: 1300, address: '172.31.10.1/24' }), (err: Error & { code?: string }) => {
      assert.match(err.message, new RegExp(`TUNSETIFF.*${dev}|${dev}.*TUNSETIFF`));
      assert.match(err.message, /busy|EBUSY|in use/i);
      return true;
    });
  });

  await t.test('close removes the device and its routes', async () => {
    await agent.request('close');
    const r = await lab.exec(ns, 'ip', ['link', 'show', 'dev', dev]);
    assert.notEqual(r.code, 0, `device ${dev} still exists after close: ${r.stdout}`);
    const routes = await lab.ip(ns, '-4', 'route', 'show');
    assert.doesNotMatch(routes, /172\.31\.50\.0/);
  });
});

test('a queue of packets is read in order and whole: in io_uring batches and with one read(2) each, with and without offloads', { timeout: 60_000 }, async (t) => {
  const started = await startAgent(t, 'qrd');
  if (!started) return;
  const { agent } = started;
  // More than two read batches (64 packets each), queued while nobody reads.
  const COUNT = 150;
  for (const offload of [true, false]) {
    for (const ioUring of [true, false]) {
      await t.test(`offload ${offload}, io_uring ${ioUring}`, async () => {
        const opened = await agent.request<{ offloads: string[]; readMode: string }>('open', { name: 'mqrd0', mtu: 1300, address: '172.31.12.1/24', txQueueLength: 1000, listen: false, offload, ioUring });
        try {
          // This kernel (6.18) allows io_uring; a silent fallback to read(2) would show here.
          assert.equal(opened.readMode, ioUring ? 'io_uring' : 'read');
          assert.equal(opened.offloads.length > 0, offload);
          // Different sizes, so that a packet read into the wrong place or cut short shows.
          const payloads = Array.from({ length: COUNT }, (_, i) => Buffer.alloc(100 + ((i * 37) % 1100), i % 251).toString('hex'));
          await agent.request('udpSend', { to: '172.31.12.9', port: 9999, payloads });
          await new Promise((r) => setTimeout(r, 300));
          const from = agent.events.length;
          await agent.request('listen');
          const datagrams = () =>
            agent.events
              .slice(from)
              .flatMap((e) => (e.event === 'packets' ? (e.packets as string[]) : []))
              .map((h) => parseIpv4(Buffer.from(h, 'hex')))
              .flatMap((p) => (p.udp && p.dst === '172.31.12.9' ? [p.udp.data] : []));
          let got = datagrams();
          for (const deadline = Date.now() + 5000; got.length < COUNT && Date.now() < deadline; got = datagrams()) await new Promise((r) => setTimeout(r, 50));
          assert.deepEqual(got.map((d) => d.toString('hex')), payloads, 'every datagram, whole and in order');
          const stats = await agent.request<NativeTunStats>('stats');
          assert.equal(stats.rxInvalid, 0);
          // One read(2) per packet (plus the one that finds the queue empty), or a few io_uring rounds per batch of 64.
          if (ioUring) assert.ok(stats.rxReads <= COUNT / 3, `io_uring: ${stats.rxReads} reads for ${stats.rxPackets} packets`);
          else assert.ok(stats.rxReads >= stats.rxPackets, `read(2): ${stats.rxReads} reads for ${stats.rxPackets} packets`);
        } finally {
          await agent.request('close');
        }
      });
    }
  }
});

test('openTun rejects bad names and MTUs with clear errors and leaves nothing behind', { timeout: 30_000 }, async (t) => {
  const started = await startAgent(t, 'err');
  if (!started) return;
  const { lab, ns, agent } = started;
  await assert.rejects(agent.request('open', { name: 'this-name-is-too-long', mtu: 1300, address: '172.31.11.1/24' }), /longer than 15/);
  await assert.rejects(agent.request('open', { name: 'mtbad0', mtu: 20, address: '172.31.11.1/24' }), /invalid tun mtu/);
  // The failed opens left nothing behind.
  const links = await lab.ip(ns, 'link', 'show');
  assert.doesNotMatch(links, /mtbad0/);
});

test('a v2 certificate\'s networks on the TUN: a second IPv4 and an IPv6 address (no DAD), IPv6 routes added and removed', { timeout: 30_000 }, async (t) => {
  const started = await startAgent(t, 'tun6');
  if (!started) return;
  const { lab, ns, agent } = started;
  const opened = await agent.request<{ name: string }>('open', {
    name: 'mesh%d',
    mtu: 1300,
    address: '172.31.12.1/24',
    moreAddresses: ['172.31.13.1/24', 'fd31:12::1/64'],
    routes: [{ cidr: 'fd31:77::/64', metric: 5 }],
    listen: false,
  });
  const addrs = await lab.ip(ns, '-o', 'addr', 'show', 'dev', opened.name);
  assert.match(addrs, /inet 172\.31\.12\.1\/24/);
  assert.match(addrs, /inet 172\.31\.13\.1\/24/);
  // nodad: usable at once, never "tentative".
  assert.match(addrs, /inet6 fd31:12::1\/64 scope global nodad/);
  assert.doesNotMatch(addrs, /tentative/);
  const routes = await lab.ip(ns, '-6', 'route', 'show', 'dev', opened.name);
  assert.match(routes, /fd31:12::\/64 proto kernel/, 'the address brings its prefix route');
  assert.match(routes, /fd31:77::\/64 metric 5/);
  await agent.request('removeRoute', { route: { cidr: 'fd31:77::/64', metric: 5 } });
  assert.doesNotMatch(await lab.ip(ns, '-6', 'route', 'show', 'dev', opened.name), /fd31:77::/);
  await assert.rejects(agent.request('addRoute', { route: { cidr: 'fd31:78::/129' } }), /invalid route/);
  await agent.request('close');
});
