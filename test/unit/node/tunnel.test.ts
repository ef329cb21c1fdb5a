import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { MemoryNetwork } from '../../../src/io/memory.js';
import { openSslAeadFactory } from '../../../src/io/openssl-aead.js';
import { createAead } from '../../../src/protocol/aead.js';
import { parseIp } from '../../../src/net/ipv4.js';
import { encodeHeader, HEADER_LEN, MessageSubType, MessageType } from '../../../src/protocol/header.js';
import { RECV_ERRORS_TOTAL_BURST, RECV_ERRORS_TOTAL_PER_SECOND } from '../../../src/node/source-limiter.js';
import { decodeHandshake, encodeHandshake } from '../../../src/protocol/messages.js';
import { parseConfig } from '../../../src/node/config.js';
import { nebulaConfig } from '../../../src/lab/configs.js';
import { settled, startMemoryNode, sleep, waitFor, type MemoryNode } from '../../helpers/memory-mesh.js';
import { icmpEcho as echo, parseIpv4, tcpSyn as syn } from '../../helpers/packets.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';
import { skipOption } from '../../helpers/skip.js';

const ca = makeCA('Tunnel CA', { ips: ['10.42.0.0/16'] });
const hostA = makeHost(ca, 'a', '10.42.0.1/16', { groups: ['web'] });
const hostB = makeHost(ca, 'b', '10.42.0.2/16');

let running: MemoryNode[] = [];
afterEach(async () => {
  for (const n of running) await n.stop();
  running = [];
});

async function pair(net: MemoryNetwork, options: Parameters<typeof startMemoryNode>[3] = {}) {
  const a = await startMemoryNode(net, hostA, '192.0.2.1', { staticHostMap: { '10.42.0.2': ['192.0.2.2:4242'] }, ...options });
  const b = await startMemoryNode(net, hostB, '192.0.2.2', { staticHostMap: { '10.42.0.1': ['192.0.2.1:4242'] }, ...options });
  running.push(a, b);
  return { a, b };
}

function handshakeStage(data: Buffer): number {
  return (data[0]! & 0x0f) === MessageType.Handshake ? Number(data.readBigUInt64BE(8)) : 0;
}

/** Records the first handshake message 1 crossing `net`; the returned function gives it (null before). */
function captureFirstMessage1(net: MemoryNetwork): () => Buffer | null {
  let captured: Buffer | null = null;
  net.addHook((p) => {
    if (!captured && handshakeStage(Buffer.from(p.data)) === 1) captured = Buffer.from(p.data);
    return p;
  });
  return () => captured;
}

/** Data and closeTunnel packets: what a crashed node would not send. */
function carriesTraffic(data: Buffer): boolean {
  const type = data[0]! & 0x0f;
  return type === MessageType.Message || type === MessageType.CloseTunnel;
}

function tunnelsMatch(a: MemoryNode, b: MemoryNode): boolean {
  const ab = a.node.hostmap.get(parseIp(b.host.ip));
  const ba = b.node.hostmap.get(parseIp(a.host.ip));
  return !!ab && !!ba && ab.remoteIndex === ba.localIndex && ba.remoteIndex === ab.localIndex;
}

/**
 * a and b with a tunnel; then a stops without its closeTunnel reaching b (as in a crash) and comes
 * back as a2, whose data b does not get until `dropData()` is called: b holds a2's new tunnel as a
 * candidate next to the old one.
 */
async function restartBehindCandidate() {
  const net = new MemoryNetwork();
  const { a, b } = await pair(net);
  a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 1)]);
  await waitFor(() => tunnelsMatch(a, b), 3000, 'first tunnel');
  const dropData = net.addHook((p) => (p.from.address === '192.0.2.1' && carriesTraffic(p.data) ? null : p));
  await a.stop();
  running = running.filter((n) => n !== a);
  const a2 = await startMemoryNode(net, hostA, '192.0.2.1', { staticHostMap: { '10.42.0.2': ['192.0.2.2:4242'] } });
  running.push(a2);
  a2.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 2)]);
  await waitFor(() => b.node.hostmap.getCandidate(parseIp('10.42.0.1')) !== undefined, 3000, 'candidate');
  return { a2, b, dropData };
}

describe('tunnels on an in-memory network', () => {
  // Each TUN batch is sealed in place per tunnel and each received batch opened in place, with one
  // AEAD call: through node:crypto and, when the addon is built, OpenSSL.
  const native = openSslAeadFactory();
  for (const [aeadName, factory] of [['node-crypto', createAead], ['openssl-native', native]] as const) {
    for (const cipher of ['aes', 'chachapoly'] as const) {
      it(`carries batches of packets of several flows both ways, in order (${aeadName}, ${cipher})`, { skip: skipOption(!factory && 'the native addon is not built') }, async () => {
        const net = new MemoryNetwork();
        const aead = { factory: factory!, name: aeadName };
        const { a, b } = await pair(net, { cipher, aead });
        a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 0)]);
        await waitFor(() => b.tun.written.length === 1, 3000, 'first echo at b');
        const sizes = [0, 1, 15, 16, 17, 100, 1200, 1240];
        const batch = Array.from({ length: 40 }, (_, i) => echo('10.42.0.1', '10.42.0.2', 8, 2 + (i % 3), i, randomBytes(sizes[i % sizes.length]!)));
        // One packet without a route in the middle is dropped on its own.
        a.tun.inject([...batch.slice(0, 20), echo('10.42.0.1', '10.43.0.9', 8, 1, 1), ...batch.slice(20)]);
        await waitFor(() => b.tun.written.length === 41, 3000, 'the batch at b');
        assert.deepEqual(b.tun.written.slice(1), batch, 'every packet arrives unchanged and in order');
        const replies = batch.map((_, i) => echo('10.42.0.2', '10.42.0.1', 0, 2 + (i % 3), i, randomBytes(i * 7)));
        b.tun.inject(replies);
        await waitFor(() => a.tun.written.length === replies.length, 3000, 'the replies at a');
        assert.deepEqual(a.tun.written, replies);
        assert.equal(b.node.stats.dropped['bad-tag'] ?? 0, 0);
        assert.equal(b.node.stats.dropped.exception ?? 0, 0);
      });
    }
  }

  for (const cipher of ['aes', 'chachapoly'] as const) {
    it(`carries a ping both ways (${cipher})`, async () => {
      const net = new MemoryNetwork();
      const { a, b } = await pair(net, { cipher });
      a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 7, 1)]);
      await waitFor(() => b.tun.written.length > 0, 3000, 'echo request at b');
      assert.equal(parseIpv4(b.tun.written[0]!).dst, '10.42.0.2');
      assert.deepEqual(b.tun.written[0], echo('10.42.0.1', '10.42.0.2', 8, 7, 1), 'the packet arrives unchanged');
      b.tun.inject([echo('10.42.0.2', '10.42.0.1', 8, 8, 1)]);
      await waitFor(() => a.tun.written.length > 0, 3000, 'packet at a');
      assert.ok(tunnelsMatch(a, b));
    });
  }

  it('settles simultaneous handshakes on one tunnel, the higher overlay IP winning', async () => {
    const net = new MemoryNetwork();
    const { a, b } = await pair(net);
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 1)]);
    b.tun.inject([echo('10.42.0.2', '10.42.0.1', 8, 1, 1)]);
    await waitFor(() => tunnelsMatch(a, b) && a.node.hostmap.pendingSize === 0 && b.node.hostmap.pendingSize === 0, 3000, 'one tunnel');
    await waitFor(() => a.tun.written.length >= 1 && b.tun.written.length >= 1, 3000, 'both queued packets delivered');
    // b (10.42.0.2) is the higher IP: its handshake is the one that stands, so a is the responder:
    // a message 2 names b's tunnel (the header's index is the initiator's).
    const standing = b.node.hostmap.get(parseIp('10.42.0.1'))!.localIndex;
    assert.ok(net.traffic.some((r) => handshakeStage(r.sent.data) === 2 && r.sent.data.readUInt32BE(4) === standing), 'a answered b');
    for (let i = 0; i < 5; i++) a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, i + 2)]);
    await waitFor(() => b.tun.written.length >= 6, 3000, 'later packets');
  });

  it('answers a retransmitted message 1 with the cached message 2 when the first was lost', async () => {
    const net = new MemoryNetwork();
    let dropped = 0;
    net.addHook((p) => (handshakeStage(p.data) === 2 && dropped++ === 0 ? null : p));
    const { a, b } = await pair(net);
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 1)]);
    await waitFor(() => b.tun.written.length > 0, 3000, 'packet after the retry');
    const replies = net.traffic.filter((r) => handshakeStage(r.sent.data) === 2).map((r) => r.sent.data);
    assert.equal(replies.length, 2);
    assert.deepEqual(replies[0], replies[1], 'the same message 2 bytes are re-sent');
    assert.equal(b.node.hostmap.size, 1);
    assert.ok(tunnelsMatch(a, b));
  });

  it('refuses a certificate from another CA', async () => {
    const net = new MemoryNetwork();
    const other = makeCA('Other CA');
    const mallory = makeHost(other, 'mallory', '10.42.0.2/16');
    const a = await startMemoryNode(net, hostA, '192.0.2.1', { staticHostMap: { '10.42.0.2': ['192.0.2.2:4242'] } });
    const m = await startMemoryNode(net, { ...mallory, ca: `${ca.pem}${other.pem}` }, '192.0.2.2', {});
    running.push(a, m);
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 1)]);
    await waitFor(() => a.node.stats.invalidCertificates > 0 && a.node.hostmap.pendingSize === 0, 3000, 'handshake to be abandoned');
    assert.equal(a.node.hostmap.size, 0);
    assert.equal(m.tun.written.length, 0);
  });

  it('refuses an expired certificate', async () => {
    const net = new MemoryNetwork();
    const past = new Date(Date.now() - 3 * 3600_000);
    const oldCa = makeCA('Old CA', { hours: 24, now: past });
    const expired = makeHost(oldCa, 'old', '10.42.0.2/16', { durationNs: 3600n * 1_000_000_000n, now: past });
    const current = makeHost(oldCa, 'a', '10.42.0.1/16');
    const a = await startMemoryNode(net, current, '192.0.2.1', { staticHostMap: { '10.42.0.2': ['192.0.2.2:4242'] } });
    running.push(a);
    // The expired host cannot even start (its own certificate is checked at load), so speak for it by hand:
    await assert.rejects(startMemoryNode(net, expired, '192.0.2.2', {}), /expired/);
    assert.equal(a.node.hostmap.size, 0);
  });

  it('drops packets the inbound firewall does not allow, and tracks allowed flows', async () => {
    const net = new MemoryNetwork();
    const { a, b } = await pair(net, { inbound: [{ port: 80, proto: 'tcp', group: 'web' }, { port: 'any', proto: 'icmp', host: 'any' }] });
    a.tun.inject([syn('10.42.0.1', 40000, '10.42.0.2', 80), syn('10.42.0.1', 40001, '10.42.0.2', 81)]);
    await waitFor(() => b.tun.written.length >= 1, 3000, 'allowed packet');
    await settled(net);
    assert.equal(b.tun.written.length, 1);
    assert.equal(b.tun.written[0]!.readUInt16BE(22), 80);
    assert.ok(b.node.stats.firewallDrops >= 1);
    // b does not have group "web", so a's inbound refuses a new flow from b to port 80 ...
    b.tun.inject([syn('10.42.0.2', 50000, '10.42.0.1', 80)]);
    await settled(net);
    assert.equal(a.tun.written.length, 0);
    // ... but the reply to a's tracked flow passes.
    b.tun.inject([syn('10.42.0.2', 80, '10.42.0.1', 40000)]);
    await waitFor(() => a.tun.written.length === 1, 3000, 'reply of tracked flow');
  });

  it('replaces the tunnel when a restarted peer handshakes again', async () => {
    const net = new MemoryNetwork();
    const { a, b } = await pair(net);
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 1)]);
    await waitFor(() => tunnelsMatch(a, b), 3000, 'first tunnel');
    const firstIndex = a.node.hostmap.get(parseIp('10.42.0.2'))!.localIndex;
    // b dies without closing its tunnels, and comes back with no state.
    b.node.udp.close();
    b.node.tun.close();
    running = running.filter((n) => n !== b);
    const b2 = await startMemoryNode(net, hostB, '192.0.2.2', { staticHostMap: { '10.42.0.1': ['192.0.2.1:4242'] } });
    running.push(b2);
    b2.tun.inject([echo('10.42.0.2', '10.42.0.1', 8, 3, 3)]);
    await waitFor(() => tunnelsMatch(a, b2), 3000, 'new tunnel');
    assert.notEqual(a.node.hostmap.get(parseIp('10.42.0.2'))!.localIndex, firstIndex);
    await waitFor(() => a.tun.written.some((p) => p.readUInt16BE(26) === 3), 3000, 'packet over the new tunnel');
  });

  it('forgets the kept handshake messages once the peer sends on the tunnel; message 1 replayed then only gets a test', async () => {
    const net = new MemoryNetwork();
    const firstMessage1 = captureFirstMessage1(net);
    const { a, b } = await pair(net);
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 1)]);
    await waitFor(() => tunnelsMatch(a, b) && b.tun.written.length === 1, 3000, 'tunnel and the first packet');
    const tunnel = b.node.hostmap.get(parseIp('10.42.0.1'))!;
    assert.equal(tunnel.handshakeMessage1, null);
    assert.equal(tunnel.handshakeMessage2, null);
    net.clearTraffic();
    const attacker = net.bind('192.0.2.66', 4242);
    attacker.send([{ data: firstMessage1()!, to: { address: '192.0.2.2', port: 4242 } }]);
    // b tests the tunnel it has (a TestRequest to a's address) instead of answering with message 2.
    await waitFor(() => net.traffic.some((r) => (r.sent.data[0]! & 0x0f) === MessageType.Test && r.sent.data[1] === MessageSubType.TestRequest), 3000, 'a test');
    await net.settle();
    assert.ok(!net.traffic.some((r) => handshakeStage(Buffer.from(r.sent.data)) === 2), 'no message 2 for the replay');
    assert.equal(b.node.hostmap.get(parseIp('10.42.0.1')), tunnel);
    assert.equal(b.node.hostmap.getCandidate(parseIp('10.42.0.1')), undefined);
  });

  it('keeps the tunnel when a captured message 1 comes back with a later time, until the peer really uses a new one', async () => {
    const net = new MemoryNetwork();
    const firstMessage1 = captureFirstMessage1(net);
    const { a, b } = await pair(net);
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 1)]);
    await waitFor(() => tunnelsMatch(a, b) && b.tun.written.length === 1, 3000, 'tunnel');
    const tunnel = b.node.hostmap.get(parseIp('10.42.0.1'))!;
    // Message 1 carries its payload in the clear (e and s are 32 bytes each): anyone can re-date it.
    const msg1 = firstMessage1()!;
    const payloadAt = HEADER_LEN + 64;
    const { details } = decodeHandshake(msg1.subarray(payloadAt));
    const forged = Buffer.concat([msg1.subarray(0, payloadAt), encodeHandshake({ details: { ...details, time: details.time + 1_000_000_000n } })]);
    const attacker = net.bind('192.0.2.66', 4242);
    attacker.send([{ data: forged, to: { address: '192.0.2.2', port: 4242 } }]);
    await waitFor(() => b.node.hostmap.getCandidate(parseIp('10.42.0.1')) !== undefined, 3000, 'candidate tunnel');
    assert.equal(b.node.hostmap.get(parseIp('10.42.0.1')), tunnel, 'the established tunnel stays');
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 2)]);
    b.tun.inject([echo('10.42.0.2', '10.42.0.1', 0, 1, 2)]);
    await waitFor(() => b.tun.written.length === 2 && a.tun.written.length === 1, 3000, 'traffic both ways on the old tunnel');
    assert.ok(tunnelsMatch(a, b));
    assert.equal(b.node.hostmap.get(parseIp('10.42.0.1')), tunnel);
    // A genuine restart of a (new tunnel, traffic on it) still takes over.
    await a.stop();
    running = running.filter((n) => n !== a);
    await waitFor(() => b.node.hostmap.size === 0, 3000, 'closeTunnel');
    const a2 = await startMemoryNode(net, hostA, '192.0.2.1', { staticHostMap: { '10.42.0.2': ['192.0.2.2:4242'] } });
    running.push(a2);
    a2.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 3)]);
    await waitFor(() => tunnelsMatch(a2, b) && b.tun.written.length === 3, 3000, 'tunnel after restart');
  });

  it('switches to the newer tunnel of a restarted peer once it sends on it', async () => {
    const { a2, b, dropData } = await restartBehindCandidate();
    assert.ok(!tunnelsMatch(a2, b));
    dropData();
    a2.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 3)]);
    await waitFor(() => tunnelsMatch(a2, b) && b.tun.written.some((p) => p.readUInt16BE(26) === 3), 3000, 'switch on traffic');
    assert.equal(b.node.hostmap.getCandidate(parseIp('10.42.0.1')), undefined);
  });

  it('switches to the newer tunnel of a restarted peer when the old one draws recv_errors', async () => {
    const { a2, b, dropData } = await restartBehindCandidate();
    dropData();
    // b still sends on the old tunnel; a2 does not know it and answers with recv_error.
    for (let i = 0; i < 4; i++) {
      b.tun.inject([echo('10.42.0.2', '10.42.0.1', 8, 5, i)]);
      await sleep(20);
    }
    await waitFor(() => tunnelsMatch(a2, b), 3000, 'switch after recv_errors');
    b.tun.inject([echo('10.42.0.2', '10.42.0.1', 8, 5, 99)]);
    await waitFor(() => a2.tun.written.some((p) => p.readUInt16BE(26) === 99), 3000, 'packet over the new tunnel');
  });

  it('removes a dead peer after the liveness checks and handshakes anew on the next packet', async () => {
    const net = new MemoryNetwork();
    const { a, b } = await pair(net);
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 1)]);
    await waitFor(() => tunnelsMatch(a, b), 3000, 'tunnel');
    const drop = net.addHook((p) => (p.to.address === '192.0.2.2' ? null : p));
    await waitFor(() => a.node.hostmap.size === 0, 3000, 'dead tunnel removal');
    assert.equal(a.node.stats.deadTunnels, 1);
    drop();
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 9)]);
    await waitFor(() => tunnelsMatch(a, b) && b.tun.written.some((p) => p.readUInt16BE(26) === 9), 3000, 'new tunnel after removal');
  });

  it('tells the peer with closeTunnel when stopping', async () => {
    const net = new MemoryNetwork();
    const { a, b } = await pair(net);
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 1)]);
    await waitFor(() => tunnelsMatch(a, b), 3000, 'tunnel');
    await a.stop();
    running = running.filter((n) => n !== a);
    await waitFor(() => b.node.hostmap.size === 0, 3000, 'peer to drop the tunnel');
    assert.ok(a.tun.closed);
  });

  it('tears a tunnel down after the fourth recv_error from its address', async () => {
    const net = new MemoryNetwork();
    const { a, b } = await pair(net);
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 1, 1)]);
    await waitFor(() => tunnelsMatch(a, b) && b.tun.written.length === 1, 3000, 'tunnel and first packet');
    // b forgets the tunnel silently (as after a crash); a's packets now earn recv_errors.
    b.node.hostmap.remove(b.node.hostmap.get(parseIp('10.42.0.1'))!);
    for (let i = 0; i < 3; i++) a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 2, i)]);
    await settled(net);
    assert.equal(a.node.hostmap.size, 1, 'three recv_errors are tolerated');
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 2, 3)]);
    await waitFor(() => a.node.hostmap.size === 0, 3000, 'the fourth recv_error to remove the tunnel');
    a.tun.inject([echo('10.42.0.1', '10.42.0.2', 8, 2, 4)]);
    await waitFor(() => tunnelsMatch(a, b) && b.tun.written.length === 2, 3000, 're-handshake and delivery');
  });

  it('answers a flood of unknown indexes from thousands of addresses with a bounded number of recv_errors', async () => {
    const net = new MemoryNetwork();
    const b = await startMemoryNode(net, hostB, '192.0.2.2');
    running.push(b);
    const started = Date.now();
    const sources = 3000;
    // A data message on an index b never gave out, from 3000 addresses: each per-address bucket allows it.
    for (let chunk = 0; chunk < sources; chunk += 500) {
      for (let i = chunk; i < chunk + 500; i++) {
        const data = Buffer.concat([encodeHeader(MessageType.Message, 0, 0x7f000000 + i, 5), randomBytes(32)]);
        net.enqueue({ address: `198.18.${i >> 8}.${i & 0xff}`, port: 4242 }, [{ to: { address: '192.0.2.2', port: 4242 }, data }]);
      }
      await settled(net);
    }
    const sent = b.node.stats.recvErrorsSent;
    const earned = Math.ceil(((Date.now() - started) / 1000) * RECV_ERRORS_TOTAL_PER_SECOND);
    assert.ok(sent >= RECV_ERRORS_TOTAL_BURST, `the burst is answered (${sent})`);
    assert.ok(sent <= RECV_ERRORS_TOTAL_BURST + earned, `at most the burst plus the rate: ${sent} of ${sources}`);
  });

  it('reloads the firewall (SIGHUP) without dropping the tunnel, and refuses a certificate with another IP', async () => {
    const net = new MemoryNetwork();
    const { a, b } = await pair(net);
    a.tun.inject([syn('10.42.0.1', 40000, '10.42.0.2', 22)]);
    await waitFor(() => b.tun.written.length === 1, 3000, 'allowed before reload');
    const tunnel = b.node.hostmap.get(parseIp('10.42.0.1'));
    const reloaded = (host: typeof hostB, inbound: { port: number | string; proto: string; host: string }[]) =>
      parseConfig(nebulaConfig({ ca: host.ca, cert: host.certPem, key: host.keyPem, listen: { host: '192.0.2.2', port: 4242 }, staticHostMap: { '10.42.0.1': ['192.0.2.1:4242'] }, inbound }), 'b.yml').config;
    await b.node.reload(reloaded(hostB, [{ port: 443, proto: 'tcp', host: 'any' }]));
    a.tun.inject([syn('10.42.0.1', 40001, '10.42.0.2', 22)]);
    await settled(net);
    assert.equal(b.tun.written.length, 1, 'port 22 is closed after the reload');
    a.tun.inject([syn('10.42.0.1', 40002, '10.42.0.2', 443)]);
    await waitFor(() => b.tun.written.length === 2, 3000, 'port 443 open after the reload');
    assert.equal(b.node.hostmap.get(parseIp('10.42.0.1')), tunnel, 'the tunnel survived the reload');
    const moved = makeHost(ca, 'b', '10.42.0.9/16');
    await assert.rejects(b.node.reload(reloaded(moved, [])), /overlay IP 10\.42\.0\.9/);
    assert.equal(b.node.identity.vpnIp, parseIp('10.42.0.2'));
  });

  it('routes an unsafe_routes subnet via the host whose certificate carries it, and checks inbound sources', async () => {
    const net = new MemoryNetwork();
    const router = makeHost(ca, 'router', '10.42.0.3/16', { subnets: ['10.200.2.0/24'] });
    const a = await startMemoryNode(net, hostA, '192.0.2.1', {
      staticHostMap: { '10.42.0.3': ['192.0.2.3:4242'] },
      tun: { unsafe_routes: [{ route: '10.200.2.0/24', via: '10.42.0.3' }] },
    });
    const r = await startMemoryNode(net, router, '192.0.2.3', { staticHostMap: { '10.42.0.1': ['192.0.2.1:4242'] } });
    running.push(a, r);
    assert.ok(a.tun.routes.some((route) => route.cidr.ip === parseIp('10.200.2.0') && route.cidr.bits === 24), 'the route is installed');
    a.tun.inject([echo('10.42.0.1', '10.200.2.5', 8, 1, 1)]);
    await waitFor(() => r.tun.written.length === 1, 3000, 'packet for the subnet at its router');
    assert.equal(parseIpv4(r.tun.written[0]!).dst, '10.200.2.5');
    r.tun.inject([echo('10.200.2.5', '10.42.0.1', 0, 1, 1), echo('10.200.3.5', '10.42.0.1', 8, 2, 1)]);
    await waitFor(() => a.tun.written.length >= 1, 3000, 'reply from the subnet');
    await settled(net);
    assert.deepEqual(a.tun.written.map((p) => parseIpv4(p).src), ['10.200.2.5'], 'a source outside the router certificate is dropped');
  });
});
