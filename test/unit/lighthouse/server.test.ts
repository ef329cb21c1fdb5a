import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LighthouseServer, type LighthouseNode } from '../../../lighthouse/server.js';
import type { Endpoint } from '../../../src/io/udp.js';
import { cidrContains, parseCidr, parseIp } from '../../../src/net/ipv4.js';
import type { HostInfo } from '../../../src/node/hostmap.js';
import { MessageType } from '../../../src/protocol/header.js';
import { decodeMeta, emptyMetaDetails, encodeMeta, formatIp4AndPort, formatIp6AndPort, ip6ToHiLo, MetaType, type MetaDetails, type MetaMessage } from '../../../src/protocol/messages.js';
import { formatVpnAddr, parseVpnAddr, type VpnAddr } from '../../../src/net/ip.js';

interface Sent {
  to: VpnAddr;
  meta: MetaMessage;
}

/** A LighthouseServer on a fake node that records what it sends and drops. */
function book(allowed: (addr: Endpoint) => boolean = () => true) {
  const sent: Sent[] = [];
  const drops: string[] = [];
  const vpnNet = parseCidr('10.42.0.0/16');
  const record = (to: VpnAddr, type: number, subtype: number, payload: Uint8Array) => {
    assert.equal(type, MessageType.LightHouse);
    assert.equal(subtype, 0);
    sent.push({ to, meta: decodeMeta(payload) });
  };
  const node: LighthouseNode = {
    sendOn: (host, type, subtype, payload) => record(host.vpnIp, type, subtype, payload),
    sendTo: (vpnIp, type, subtype, payload) => record(vpnIp, type, subtype, payload),
    remoteAllowed: (_vpnIp, addr) => allowed(addr),
    diag: { drop: (kind) => void drops.push(kind) },
    inVpnNetworks: (ip) => typeof ip === 'number' && cidrContains(vpnNet, ip),
  };
  return { server: new LighthouseServer(node), sent, drops };
}

function host(ip: string, remote: string | null): HostInfo {
  const i = remote ? remote.lastIndexOf(':') : -1;
  const endpoint = remote ? { address: remote.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(remote.slice(i + 1)) } : null;
  return { vpnIp: parseIp(ip), vpnAddrs: [parseIp(ip)], addrForm: 'v1', remote: endpoint } as unknown as HostInfo;
}

function meta(type: number, vpnIp: VpnAddr, v4: string[] = [], v6: string[] = [], relays: string[] = []): MetaMessage {
  const details: MetaDetails = {
    vpnIp,
    ip4AndPorts: v4.map((a) => ({ ip: parseIp(a.split(':')[0]!), port: Number(a.split(':')[1]) })),
    counter: 0,
    ip6AndPorts: v6.map((a) => {
      const m = /^\[(.+)\]:(\d+)$/.exec(a)!;
      return { ...ip6ToHiLo(m[1]!), port: Number(m[2]) };
    }),
    relayVpnIps: relays.map(parseIp),
  };
  // Through the codec, as the node hands it over.
  return decodeMeta(encodeMeta(type, details));
}

const addrs = (d: MetaDetails) => [...d.ip4AndPorts.map(formatIp4AndPort), ...d.ip6AndPorts.map(formatIp6AndPort)];

describe('LighthouseServer', () => {
  it('answers a query with the learned address first, then the reported ones, and notifies the target', () => {
    const { server, sent } = book();
    const a = host('10.42.0.2', '198.51.100.2:31000');
    const b = host('10.42.0.3', '[2001:db8::3]:4242');
    server.onTunnelUp(a);
    server.onTunnelUp(b);
    server.handle(a, meta(MetaType.HostUpdateNotification, a.vpnIp, ['192.168.1.2:4242', '198.51.100.2:31000'], [], ['10.42.0.1']));
    server.handle(b, meta(MetaType.HostUpdateNotification, b.vpnIp, ['192.168.1.3:4242'], ['[2001:db8::33]:4242']));
    server.handle(a, meta(MetaType.HostQuery, b.vpnIp));
    assert.equal(sent.length, 2);
    const [reply, punch] = sent as [Sent, Sent];
    assert.equal(reply.to, a.vpnIp);
    assert.equal(reply.meta.type, MetaType.HostQueryReply);
    assert.equal(formatVpnAddr(reply.meta.details.vpnIp), '10.42.0.3');
    assert.deepEqual(addrs(reply.meta.details), ['192.168.1.3:4242', '[2001:db8::3]:4242', '[2001:db8::33]:4242']);
    assert.equal(punch.to, b.vpnIp);
    assert.equal(punch.meta.type, MetaType.HostPunchNotification);
    assert.equal(formatVpnAddr(punch.meta.details.vpnIp), '10.42.0.2');
    // Learned first; the reported copy of the learned address is not repeated.
    assert.deepEqual(addrs(punch.meta.details), ['198.51.100.2:31000', '192.168.1.2:4242']);
    assert.deepEqual(punch.meta.details.relayVpnIps.map(formatVpnAddr), ['10.42.0.1']);
  });

  it('keeps at most 10 reported addresses per family and drops VPN-network, port 0 and disallowed ones', () => {
    const { server } = book((addr) => !addr.address.startsWith('203.0.113.'));
    const a = host('10.42.0.2', null);
    const v4 = ['10.42.0.9:4242', '192.0.2.1:0', '203.0.113.5:4242', ...Array.from({ length: 12 }, (_, i) => `192.0.2.${i + 1}:4242`)];
    const v6 = Array.from({ length: 12 }, (_, i) => `[2001:db8::${i + 1}]:4242`);
    server.handle(a, meta(MetaType.HostUpdateNotification, a.vpnIp, v4, v6));
    const entry = server.addressesOf(a.vpnIp)!;
    assert.deepEqual(entry.v4.map((e) => e.address), Array.from({ length: 10 }, (_, i) => `192.0.2.${i + 1}`));
    assert.equal(entry.v6.length, 10);
  });

  it('replaces the report on each update and follows roaming', () => {
    const { server, sent } = book();
    const a = host('10.42.0.2', '198.51.100.2:31000');
    const b = host('10.42.0.3', '198.51.100.3:4242');
    server.onTunnelUp(a);
    server.onTunnelUp(b);
    server.handle(b, meta(MetaType.HostUpdateNotification, b.vpnIp, ['192.168.1.3:4242']));
    server.handle(a, meta(MetaType.HostQuery, b.vpnIp));
    server.handle(b, meta(MetaType.HostUpdateNotification, b.vpnIp, ['192.168.7.3:4242']));
    b.remote = { address: '198.51.100.33', port: 5000 };
    server.onRoam(b);
    server.handle(a, meta(MetaType.HostQuery, b.vpnIp));
    const replies = sent.filter((s) => s.meta.type === MetaType.HostQueryReply);
    assert.deepEqual(addrs(replies[0]!.meta.details), ['198.51.100.3:4242', '192.168.1.3:4242']);
    assert.deepEqual(addrs(replies[1]!.meta.details), ['198.51.100.33:5000', '192.168.7.3:4242']);
  });

  it('stays silent for unknown and forgotten hosts', () => {
    const { server, sent } = book();
    const a = host('10.42.0.2', '198.51.100.2:31000');
    const b = host('10.42.0.3', '198.51.100.3:4242');
    server.onTunnelUp(a);
    server.handle(a, meta(MetaType.HostQuery, b.vpnIp));
    assert.equal(sent.length, 0);
    server.onTunnelUp(b);
    server.handle(a, meta(MetaType.HostQuery, b.vpnIp));
    assert.equal(sent.length, 2);
    server.onTunnelGone(b);
    assert.equal(server.size, 1);
    server.handle(a, meta(MetaType.HostQuery, b.vpnIp));
    assert.equal(sent.length, 2);
  });

  it('ignores updates for another overlay IP and messages meant for nodes', () => {
    const { server, sent, drops } = book();
    const a = host('10.42.0.2', '198.51.100.2:31000');
    const b = host('10.42.0.3', '198.51.100.3:4242');
    server.onTunnelUp(a);
    server.onTunnelUp(b);
    server.handle(b, meta(MetaType.HostUpdateNotification, a.vpnIp, ['192.0.2.66:4242']));
    server.handle(b, meta(MetaType.HostQueryReply, a.vpnIp, ['192.0.2.66:4242']));
    server.handle(b, meta(MetaType.HostPunchNotification, a.vpnIp, ['192.0.2.66:4242']));
    assert.deepEqual(drops, ['lighthouse-update-wrong-ip', 'lighthouse-unexpected', 'lighthouse-unexpected']);
    assert.deepEqual(server.addressesOf(a.vpnIp)!.v4, [{ address: '198.51.100.2', port: 31000 }]);
    assert.equal(sent.length, 0);
  });

  it('answers a query about any address of a host; an IPv6 one only on a v2 tunnel, in its Addr fields', () => {
    const { server, sent } = book();
    const dual = (ip: string, ip6: string, remote: string): HostInfo =>
      ({ ...host(ip, remote), vpnAddrs: [parseIp(ip), parseVpnAddr(ip6)], addrForm: 'v2' }) as unknown as HostInfo;
    const a = dual('10.42.0.2', 'fd42::2', '198.51.100.2:31000');
    const b = dual('10.42.0.3', 'fd42::3', '198.51.100.3:31000');
    const old = host('10.42.0.4', '198.51.100.4:4242');
    for (const h of [a, b, old]) server.onTunnelUp(h);
    const query = (about: VpnAddr): MetaMessage => ({ type: MetaType.HostQuery, details: { ...emptyMetaDetails(), vpnIp: about } });

    server.handle(a, query(parseVpnAddr('fd42::3')));
    assert.equal(sent.length, 2, 'the answer and the punch notification');
    const [reply, punch] = sent as [Sent, Sent];
    assert.equal(reply.to, a.vpnIp);
    assert.equal(reply.meta.type, MetaType.HostQueryReply);
    assert.equal(reply.meta.details.vpnIp, parseVpnAddr('fd42::3'), 'named by the address asked about');
    assert.deepEqual(addrs(reply.meta.details), ['198.51.100.3:31000']);
    assert.equal(punch.to, parseVpnAddr('fd42::3'));
    assert.equal(punch.meta.details.vpnIp, a.vpnIp);
    assert.deepEqual(server.addressesOf(parseVpnAddr('fd42::3')), server.addressesOf(b.vpnIp));

    // A v1 tunnel cannot name an IPv6 address: no answer, as for an unknown host.
    server.handle(old, query(parseVpnAddr('fd42::3')));
    assert.equal(sent.length, 2);
    // It still asks about the IPv4 address of a dual-stack host.
    server.handle(old, query(b.vpnIp));
    assert.equal(sent.length, 4);
    assert.equal(sent[2]!.meta.details.vpnIp, b.vpnIp);

    // Gone: neither address is answered any more.
    server.onTunnelGone(b);
    server.handle(a, query(parseVpnAddr('fd42::3')));
    server.handle(a, query(b.vpnIp));
    assert.equal(sent.length, 4);
    assert.equal(server.addressesOf(parseVpnAddr('fd42::3')), null);
  });
});
