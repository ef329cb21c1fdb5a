import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { MemoryNetwork, type MemoryPacket } from '../../../src/io/memory.js';
import { parseIp } from '../../../src/net/ipv4.js';
import { HEADER_LEN, MessageSubType, MessageType, writeHeader } from '../../../src/protocol/header.js';
import { ControlType, encodeControl } from '../../../src/protocol/messages.js';
import type { HostInfo } from '../../../src/node/hostmap.js';
import { MAX_RELAYS_PER_HOP } from '../../../src/node/relay-manager.js';
import { startMemoryNode, waitFor, type MemoryNode } from '../../helpers/memory-mesh.js';
import { icmpEcho as echo, parseIpv4 } from '../../helpers/packets.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';

const ca = makeCA('Relay CA', { ips: ['10.43.0.0/16'] });
const hostA = makeHost(ca, 'a', '10.43.0.1/16');
const hostB = makeHost(ca, 'b', '10.43.0.2/16');
const hostR = makeHost(ca, 'r', '10.43.0.3/16');
const IP_A = parseIp('10.43.0.1');
const IP_B = parseIp('10.43.0.2');
const IP_R = parseIp('10.43.0.3');
const ADDR_A = '192.0.2.1';
const ADDR_B = '192.0.2.2';
const ADDR_R = '192.0.2.3';

/** Enough retries for the relay set-up (tunnel to R, request, response) within one handshake. */
const RELAY_TIMERS = { handshakes: { try_interval: '20ms', retries: 10 } };

let running: MemoryNode[] = [];
afterEach(async () => {
  for (const n of running) await n.stop();
  running = [];
});

function between(p: MemoryPacket, x: string, y: string): boolean {
  return (p.from.address === x && p.to.address === y) || (p.from.address === y && p.to.address === x);
}

function typeOf(data: Buffer): number {
  return data[0]! & 0x0f;
}

function isHandshake1(data: Buffer): boolean {
  return typeOf(data) === MessageType.Handshake && data.length > HEADER_LEN && data.readBigUInt64BE(8) === 1n;
}

interface Trio {
  a: MemoryNode;
  b: MemoryNode;
  r: MemoryNode;
  net: MemoryNetwork;
  /** Lets A and B reach each other directly from now on. */
  unblock: () => void;
}

/**
 * A, B and R where A and B cannot reach each other directly. A knows B's address (it is reported
 * but unreachable) and that B uses R; B and R know each other statically, as do A and R.
 */
async function trio(options: { amRelay?: boolean; bAddressKnown?: boolean } = {}): Promise<Trio> {
  const net = new MemoryNetwork();
  const unblock = net.addHook((p) => (between(p, ADDR_A, ADDR_B) ? null : p));
  const extra = RELAY_TIMERS;
  const r = await startMemoryNode(net, hostR, ADDR_R, {
    staticHostMap: { '10.43.0.1': [`${ADDR_A}:4242`], '10.43.0.2': [`${ADDR_B}:4242`] },
    relay: { am_relay: options.amRelay ?? true },
    extra,
  });
  const a = await startMemoryNode(net, hostA, ADDR_A, { staticHostMap: { '10.43.0.3': [`${ADDR_R}:4242`] }, extra });
  const b = await startMemoryNode(net, hostB, ADDR_B, { staticHostMap: { '10.43.0.3': [`${ADDR_R}:4242`] }, relay: { relays: ['10.43.0.3'] }, extra });
  running.push(r, a, b);
  // What a lighthouse answer would tell A about B (the lighthouse client fills this in production).
  const report = (host: HostInfo) => {
    if (host.vpnIp === IP_B) host.remotes.setReported(IP_R, options.bAddressKnown === false ? [] : [{ address: ADDR_B, port: 4242 }], [IP_R]);
  };
  a.node.lighthouseClient.onHandshakeStart = report;
  report({ vpnIp: IP_B, remotes: a.node.hostmap.remotesFor(IP_B) } as HostInfo);
  return { a, b, r, net, unblock };
}

async function ping(from: MemoryNode, to: MemoryNode, seq: number, timeoutMs = 3000): Promise<void> {
  const before = to.tun.written.length;
  const request = echo(from.host.ip, to.host.ip, 8, 1, seq);
  from.tun.inject([request]);
  await waitFor(() => to.tun.written.slice(before).some((p) => p.equals(request)), timeoutMs, `ping ${from.host.name}→${to.host.name} #${seq}`);
}

/** Keeps pinging until one arrives (the first packets may be lost while a tunnel re-forms). */
async function pingUntilDelivered(from: MemoryNode, to: MemoryNode, seq: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await ping(from, to, seq++, 250);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

function assertRelayed(n: MemoryNode, peer: number): void {
  const host = n.node.hostmap.get(peer);
  assert.ok(host?.established, `${n.host.name} has a tunnel`);
  assert.equal(host.remote, null, `${n.host.name}'s tunnel has no direct address`);
  assert.equal(n.node.relays.relayFor(peer), IP_R, `${n.host.name} reaches the peer through R`);
}

describe('relays on an in-memory network', () => {
  it('carries traffic both ways between A and B only through R', async () => {
    const { a, b, r, net } = await trio();
    await ping(a, b, 1);
    await ping(b, a, 2);
    await ping(a, b, 3);
    assertRelayed(a, IP_B);
    assertRelayed(b, IP_A);
    const forwarding = r.node.relays.relays().filter((x) => !x.terminal && x.state === 'established');
    assert.equal(forwarding.length, 2, 'R holds both halves of the relay');
    assert.ok(net.traffic.some((t) => t.verdict === 'dropped' && t.sent.from.address === ADDR_A && isHandshake1(t.sent.data)), 'A tried B directly first');
    assert.ok(!net.traffic.some((t) => t.verdict === 'delivered' && between(t.sent, ADDR_A, ADDR_B)), 'nothing went directly between A and B');
    const relayFrames = net.traffic.filter((t) => t.verdict === 'delivered' && typeOf(t.sent.data) === MessageType.Message && t.sent.data[1] === MessageSubType.Relay);
    assert.ok(relayFrames.length >= 6, 'handshake and pings travelled in relay frames');
    // B's reply to A's first ping came back through the relay as well.
    assert.ok(a.tun.written.some((p) => parseIpv4(p).src === b.host.ip));
  });

  it('replaces a relayed tunnel by a direct one once the direct path works', async () => {
    const { a, b, net, unblock } = await trio();
    await ping(a, b, 1);
    assertRelayed(a, IP_B);
    unblock();
    // Every 6 connection_alive_intervals (300 ms here) A tries B's direct address.
    await waitFor(() => (a.node.hostmap.get(IP_B)?.remote ?? null) !== null, 5000, 'a direct tunnel at A');
    await ping(a, b, 2);
    await waitFor(() => (b.node.hostmap.get(IP_A)?.remote ?? null) !== null, 3000, 'B switched to the direct tunnel');
    net.clearTraffic();
    await ping(b, a, 3);
    await ping(a, b, 4);
    const relayFrames = net.traffic.filter((t) => typeOf(t.sent.data) === MessageType.Message && t.sent.data[1] === MessageSubType.Relay);
    assert.equal(relayFrames.length, 0, 'no more relay frames');
    assert.ok(net.traffic.some((t) => t.verdict === 'delivered' && between(t.sent, ADDR_A, ADDR_B)), 'A and B talk directly');
  });

  it('reaches a peer with no known direct address through its relay', async () => {
    const { a, b } = await trio({ bAddressKnown: false });
    await ping(a, b, 1);
    await ping(b, a, 2);
    assertRelayed(a, IP_B);
  });

  it('asks relays only from the second attempt on by default', async () => {
    const { a, b, r, net } = await trio();
    await ping(a, r, 1); // A–R tunnel first, so a request could go out at once
    const firstRequest = await directAttemptsBeforeRelayRequest(net, a, b);
    assert.ok(firstRequest >= 2, `direct attempts before the relay request: ${firstRequest}`);
  });

  it('asks relays from the first attempt when the NAT is symmetric', async () => {
    const { a, b, r, net } = await trio();
    Object.defineProperty(a.node.nat, 'symmetric', { get: () => true });
    await ping(a, r, 1);
    const firstRequest = await directAttemptsBeforeRelayRequest(net, a, b);
    assert.equal(firstRequest, 1, 'the request goes out with the first attempt');
    assertRelayed(a, IP_B);
  });

  it('is refused by a node without relay.am_relay', async () => {
    const { a, b, r } = await trio({ amRelay: false });
    a.tun.inject([echo(a.host.ip, b.host.ip, 8, 1, 1)]);
    await waitFor(() => (r.node.stats.dropped['relay-refused'] ?? 0) > 0, 3000, 'a refused request');
    await waitFor(() => a.node.hostmap.getPending(IP_B) === undefined, 3000, 'the handshake to give up');
    assert.equal(a.node.hostmap.get(IP_B), undefined, 'no tunnel between A and B');
    assert.equal(b.tun.written.length, 0);
    assert.equal(r.node.relays.relays().length, 0, 'R keeps no relay state');
  });

  it('tears the relayed tunnel down when R loses B, and forms it again', async () => {
    const { a, b, r } = await trio();
    await ping(a, b, 1);
    const first = a.node.hostmap.get(IP_B)!;
    // R's tunnel to B dies without a word to B (as a dead tunnel would).
    r.node.removeTunnel(r.node.hostmap.get(IP_B)!, false);
    assert.equal(r.node.relays.relays().length, 0, 'both halves on R are gone with the hop');
    // A keeps sending into the void until its liveness check gives the relayed tunnel up.
    const deadline = Date.now() + 5000;
    let seq = 2;
    while (a.node.hostmap.get(IP_B) === first) {
      assert.ok(Date.now() < deadline, 'A gave up the dead relayed tunnel');
      a.tun.inject([echo(a.host.ip, b.host.ip, 8, 1, seq++)]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await pingUntilDelivered(a, b, 100, 5000);
    await ping(b, a, 200);
    assert.notEqual(a.node.hostmap.get(IP_B), first, 'a new tunnel');
    assertRelayed(a, IP_B);
    assertRelayed(b, IP_A);
  });

  it('tears the relayed tunnel down at once when A loses its tunnel to R', async () => {
    const { a, b } = await trio();
    await ping(a, b, 1);
    const first = a.node.hostmap.get(IP_B)!;
    a.node.removeTunnel(a.node.hostmap.get(IP_R)!, true);
    assert.equal(a.node.hostmap.get(IP_B), undefined, 'no tunnel left that could only black-hole traffic');
    assert.equal(a.node.relays.relays().length, 0);
    await pingUntilDelivered(a, b, 100, 5000);
    assert.notEqual(a.node.hostmap.get(IP_B), first, 'a new tunnel');
    assertRelayed(a, IP_B);
  });

  it('keeps each hop\'s relay table bounded, making room from idle relays', async () => {
    const { a, b, r } = await trio();
    await ping(a, b, 1);
    const toR = a.node.hostmap.get(IP_R)!;
    // Requests naming R as the target are accepted for any initiator (R cannot check who that is).
    for (let i = 0; i < MAX_RELAYS_PER_HOP + 50; i++) {
      const request = { type: ControlType.CreateRelayRequest, initiatorRelayIndex: 1000 + i, responderRelayIndex: 0, relayFromIp: parseIp('10.43.1.0') + i, relayToIp: IP_R };
      a.node.sendOn(toR, MessageType.Control, 0, encodeControl(request));
    }
    await waitFor(() => r.node.relays.relays().some((x) => x.remoteIndex === 1000 + MAX_RELAYS_PER_HOP + 49), 3000, 'the last request accepted');
    const onHopA = r.node.relays.relays().filter((x) => x.hop.vpnIp === IP_A);
    assert.ok(onHopA.length <= MAX_RELAYS_PER_HOP, `R's table for A holds ${onHopA.length}`);
    assert.ok(onHopA.some((x) => !x.terminal && x.state === 'established'), 'the relay in use was kept');
    await ping(a, b, 2);
    await ping(b, a, 3);
  });

  it('drops malformed control messages and frames with unknown indices or bad tags without harm', async () => {
    const { a, b, r, net } = await trio();
    await ping(a, b, 1);
    const toR = a.node.hostmap.get(IP_R)!;
    const dropped = (kind: string) => r.node.stats.dropped[kind] ?? 0;

    a.node.sendOn(toR, MessageType.Control, 0, Buffer.from([0xff, 0xff, 0xff]));
    await waitFor(() => dropped('control-malformed') === 1, 2000, 'malformed control dropped');

    // A request in another node's name, and a response nobody asked for.
    a.node.sendOn(toR, MessageType.Control, 0, encodeControl({ type: ControlType.CreateRelayRequest, initiatorRelayIndex: 7, responderRelayIndex: 0, relayFromIp: IP_B, relayToIp: IP_B + 10 }));
    a.node.sendOn(toR, MessageType.Control, 0, encodeControl({ type: ControlType.CreateRelayResponse, initiatorRelayIndex: 12345, responderRelayIndex: 9, relayFromIp: IP_A, relayToIp: IP_B }));
    await waitFor(() => dropped('relay-request-invalid') === 1 && dropped('relay-response-unexpected') === 1, 2000, 'bogus control dropped');

    const frame = Buffer.alloc(HEADER_LEN + 40, 0xab);
    writeHeader(frame, 0, MessageType.Message, MessageSubType.Relay, 0x0badf00d, 999);
    a.node.sendRaw(frame, { address: ADDR_R, port: 4242 });
    const tiny = Buffer.alloc(HEADER_LEN);
    writeHeader(tiny, 0, MessageType.Message, MessageSubType.Relay, r.node.relays.relays()[0]!.localIndex, 999);
    a.node.sendRaw(tiny, { address: ADDR_R, port: 4242 });
    await waitFor(() => dropped('relay-unknown-index') === 1 && dropped('relay-bad-tag') === 1, 2000, 'bad frames dropped');

    // A genuine frame altered on the way: the hop tag no longer matches.
    let corrupted = 0;
    const removeHook = net.addHook((p) => {
      if (corrupted > 0 || p.from.address !== ADDR_A || p.to.address !== ADDR_R || typeOf(p.data) !== MessageType.Message || p.data[1] !== MessageSubType.Relay) return p;
      corrupted++;
      const data = Buffer.from(p.data);
      data[HEADER_LEN + 20]! ^= 0x01;
      return { ...p, data };
    });
    const before = b.tun.written.length;
    a.tun.inject([echo(a.host.ip, b.host.ip, 8, 1, 2)]);
    await waitFor(() => dropped('relay-bad-tag') === 2, 2000, 'altered frame dropped');
    removeHook();
    assert.equal(b.tun.written.length, before, 'the altered packet never reached B');
    await ping(a, b, 3);
    await ping(b, a, 4);
  });
});

/** Starts A's handshake to B and counts A's direct message-1 sends to B before its first control message to R. */
async function directAttemptsBeforeRelayRequest(net: MemoryNetwork, a: MemoryNode, b: MemoryNode): Promise<number> {
  let direct = 0;
  let atRequest = -1;
  const stop = net.onTraffic((t) => {
    const p = t.sent;
    if (p.from.address !== ADDR_A) return;
    if (p.to.address === ADDR_B && isHandshake1(p.data)) direct++;
    if (p.to.address === ADDR_R && typeOf(p.data) === MessageType.Control && atRequest < 0) atRequest = direct;
  });
  try {
    await ping(a, b, 10);
  } finally {
    stop();
  }
  return atRequest;
}
