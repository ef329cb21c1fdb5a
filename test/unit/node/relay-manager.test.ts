/**
 * The relay manager alone, as relay R between hosts A and B, on fakes of the capabilities it
 * takes: recorded control messages, a fake clock, a host map filled by hand.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseIp } from '../../../src/net/ipv4.js';
import type { VpnAddr } from '../../../src/net/ip.js';
import type { Certificate } from '../../../pki/cert.js';
import { createAead } from '../../../src/protocol/aead.js';
import { MessageType } from '../../../src/protocol/header.js';
import { ControlType, decodeControl, encodeControl, type ControlMessage } from '../../../src/protocol/messages.js';
import { Diagnostics } from '../../../src/node/diagnostics.js';
import { HostInfo, HostMap } from '../../../src/node/hostmap.js';
import { RelayManager } from '../../../src/node/relay-manager.js';
import { RemoteList } from '../../../src/node/remote-list.js';
import { FakeTimers } from '../../helpers/fake-timers.js';

const R = parseIp('10.8.0.1');
const A = parseIp('10.8.0.2');
const B = parseIp('10.8.0.3');
const NET = { ip: parseIp('10.8.0.0'), bits: 16 };
/** IPv6 overlay addresses in fd08::/64 (v2 certificates). */
const A6 = 0xfd080000000000000000000000000002n;
const B6 = 0xfd080000000000000000000000000003n;

interface Relay {
  manager: RelayManager;
  hostmap: HostMap;
  diag: Diagnostics;
  /** Control messages R sent, with the overlay IP of the hop they went to. */
  control: { to: VpnAddr; message: ControlMessage }[];
  handshakes: VpnAddr[];
  tunnel(vpnIp: VpnAddr, port: number): HostInfo;
}

function relay(amRelay: boolean): Relay {
  const hostmap = new HostMap();
  const diag = new Diagnostics(pino({ level: 'silent' }));
  const control: Relay['control'] = [];
  const handshakes: VpnAddr[] = [];
  const manager = new RelayManager({
    hostmap,
    diag,
    timers: new FakeTimers(),
    identity: () => ({ vpnIp: R, vpnAddrs: [R], inVpnNetworks: (ip) => (typeof ip === 'number' ? (ip & 0xffff0000) >>> 0 === NET.ip : ip >> 64n === A6 >> 64n) }),
    settings: () => ({ relay: { amRelay, useRelays: true, relays: [] }, connectionAliveInterval: 1000 }),
    natSymmetric: () => false,
    startHandshake: (vpnIp) => void handshakes.push(vpnIp),
    sendOn: (host, type, _subtype, payload) => {
      assert.equal(type, MessageType.Control);
      control.push({ to: host.vpnIp, message: decodeControl(Buffer.from(payload)) });
    },
    transmit: () => {},
    heardFrom: () => {},
    deliver: () => {},
    removeTunnel: () => {},
  });
  let nextIndex = 100;
  const tunnel = (vpnIp: VpnAddr, port: number) => {
    const host = new HostInfo(vpnIp, nextIndex++, new RemoteList());
    host.remote = { address: '192.0.2.1', port };
    host.encrypt = createAead('aes', randomBytes(32));
    host.decrypt = createAead('aes', randomBytes(32));
    hostmap.add(host);
    return host;
  };
  return { manager, hostmap, diag, control, handshakes, tunnel };
}

function request(from: number, to: number, initiatorRelayIndex: number): Buffer {
  return Buffer.from(encodeControl({ type: ControlType.CreateRelayRequest, initiatorRelayIndex, responderRelayIndex: 0, relayFromIp: from, relayToIp: to }));
}

function response(initiatorRelayIndex: number, responderRelayIndex: number): Buffer {
  return Buffer.from(encodeControl({ type: ControlType.CreateRelayResponse, initiatorRelayIndex, responderRelayIndex, relayFromIp: A, relayToIp: B }));
}

/** R with direct tunnels to A and B. */
function between(amRelay: boolean): { r: Relay; hopA: HostInfo; hopB: HostInfo } {
  const r = relay(amRelay);
  return { r, hopA: r.tunnel(A, 1), hopB: r.tunnel(B, 2) };
}

/** R between A and B with the relay set up: A asked, B accepted. */
function established(): { r: Relay; hopA: HostInfo; hopB: HostInfo } {
  const { r, hopA, hopB } = between(true);
  r.manager.handleControl(hopA, request(A, B, 55));
  r.manager.handleControl(hopB, response(r.control[0]!.message.initiatorRelayIndex, 77));
  return { r, hopA, hopB };
}

describe('RelayManager on fakes (relay role)', () => {
  it('refuses requests when relay.am_relay is false and keeps no state', () => {
    const { r, hopA } = between(false);
    r.manager.handleControl(hopA, request(A, B, 55));
    assert.equal(r.diag.stats.dropped['relay-refused'], 1);
    assert.deepEqual(r.manager.relays(), []);
    assert.deepEqual(r.control, []);
  });

  it('starts a handshake to a target it has no tunnel with, and waits for the retry', () => {
    const r = relay(true);
    const hopA = r.tunnel(A, 1);
    r.manager.handleControl(hopA, request(A, B, 55));
    assert.deepEqual(r.handshakes, [B]);
    assert.deepEqual(r.manager.relays(), []);
  });

  it('asks the target for a new relay and waits for its answer', () => {
    const { r, hopA } = between(true);
    r.manager.handleControl(hopA, request(A, B, 55));
    assert.equal(r.control.length, 1);
    const asked = r.control[0]!;
    assert.equal(asked.to, B);
    assert.equal(asked.message.type, ControlType.CreateRelayRequest);
    assert.equal(asked.message.relayFromIp, A);
    assert.equal(asked.message.relayToIp, B);
    assert.ok(r.manager.relays().every((x) => !x.terminal && x.state !== 'established'));
  });

  it('answers the initiator once the target accepted', () => {
    const { r, hopB } = established();
    const answer = r.control[1]!;
    assert.equal(answer.to, A);
    assert.equal(answer.message.type, ControlType.CreateRelayResponse);
    assert.equal(answer.message.initiatorRelayIndex, 55, 'A learns which of its relays this is');
    assert.equal(r.manager.relays().length, 2);
    assert.ok(r.manager.relays().every((x) => x.state === 'established'));
    const towardsB = r.manager.relays().find((x) => x.hop === hopB)!;
    assert.equal(towardsB.remoteIndex, 77);
  });

  it('refuses a request in another host\'s name and an unexpected response', () => {
    const { r, hopA } = between(true);
    r.manager.handleControl(hopA, request(B, A, 55));
    assert.equal(r.diag.stats.dropped['relay-request-invalid'], 1);
    r.manager.handleControl(hopA, response(12345, 1));
    assert.equal(r.diag.stats.dropped['relay-response-unexpected'], 1);
    r.manager.handleControl(hopA, Buffer.from([0xff, 0xff]));
    assert.equal(r.diag.stats.dropped['control-malformed'], 1);
    assert.deepEqual(r.manager.relays(), []);
  });

  it('drops both halves when one hop tunnel goes', () => {
    const { r, hopA } = established();
    assert.equal(r.manager.relays().length, 2);
    r.hostmap.remove(hopA);
    r.manager.onTunnelGone(hopA);
    assert.deepEqual(r.manager.relays(), []);
  });
});

describe('RelayManager with IPv6 overlay addresses', () => {
  const v2 = { details: { version: 2 } } as unknown as Certificate;
  const request6 = (initiatorRelayIndex: number) =>
    Buffer.from(encodeControl({ type: ControlType.CreateRelayRequest, initiatorRelayIndex, responderRelayIndex: 0, relayFromIp: A6, relayToIp: B6 }, 'v2'));

  it('relays between IPv6 addresses over v2 tunnels, naming them in the 128-bit Addr fields', () => {
    const r = relay(true);
    const hopA = r.tunnel(A6, 1);
    const hopB = r.tunnel(B6, 2);
    hopA.cert = v2;
    hopB.cert = v2;
    r.manager.handleControl(hopA, request6(55));
    assert.equal(r.control.length, 1);
    // Only the Addr fields can carry an IPv6 address: the decoded bigints prove the v2 form.
    assert.deepEqual([r.control[0]!.to, r.control[0]!.message.relayFromIp, r.control[0]!.message.relayToIp], [B6, A6, B6]);
  });

  it('does not send a relay request naming an IPv6 address on a v1 tunnel', () => {
    const r = relay(true);
    const hopA = r.tunnel(A6, 1);
    r.tunnel(B6, 2);
    hopA.cert = v2;
    r.manager.handleControl(hopA, request6(55));
    assert.deepEqual(r.control, []);
    assert.equal(r.diag.stats.dropped['relay-ipv6-over-v1'], 1);
  });
});
