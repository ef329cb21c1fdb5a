import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../../src/errors.js';
import { type IpPrefix, parseIpNetwork, parseIpPrefix } from '../../../src/net/ip.js';
import { parseIp } from '../../../src/net/ipv4.js';
import { type NodeConfig, parseConfig } from '../../../src/node/config.js';
import {
  DROP_LOCAL_IP,
  DROP_MALFORMED,
  DROP_NO_RULE,
  DROP_REMOTE_IP,
  Firewall,
  localCidrsFromCert,
  type PeerIdentity,
  peerRemoteCidrs,
} from '../../../src/node/firewall.js';
import { parseIpPacket, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from '../../../src/protocol/ip-packet.js';

const ME = '10.1.0.1';
const PEER = '10.1.0.2';
const MY_CIDRS: IpPrefix[] = localCidrsFromCert([parseIpNetwork(`${ME}/16`)], []);
const prefix = (text: string): IpPrefix => parseIpPrefix(text)!;

interface PacketSpec {
  src: string;
  dst: string;
  proto?: number;
  sport?: number;
  dport?: number;
  /** Fragment offset in 8-byte units (non-zero = non-first fragment). */
  fragOffset?: number;
  moreFragments?: boolean;
  ihl?: number;
  length?: number;
}

function packet(s: PacketSpec): Uint8Array {
  const ihl = s.ihl ?? 5;
  const proto = s.proto ?? PROTO_TCP;
  const buf = new Uint8Array(s.length ?? ihl * 4 + 20);
  const dv = new DataView(buf.buffer);
  buf[0] = 0x40 | ihl;
  dv.setUint16(2, buf.length);
  dv.setUint16(6, ((s.moreFragments ? 1 : 0) << 13) | (s.fragOffset ?? 0));
  buf[8] = 64;
  buf[9] = proto;
  dv.setUint32(12, parseIp(s.src));
  dv.setUint32(16, parseIp(s.dst));
  if (buf.length >= ihl * 4 + 4) {
    dv.setUint16(ihl * 4, s.sport ?? 0);
    dv.setUint16(ihl * 4 + 2, s.dport ?? 0);
  }
  return buf;
}

/** Packet arriving from the peer to us. */
const fromPeer = (dport: number, o: Partial<PacketSpec> = {}) => packet({ src: PEER, dst: ME, sport: 40000, dport, ...o });
/** Packet leaving us to the peer. */
const toPeer = (dport: number, o: Partial<PacketSpec> = {}) => packet({ src: ME, dst: PEER, sport: 40000, dport, ...o });

function peer(o: Partial<PeerIdentity> = {}): PeerIdentity {
  return { name: 'peer', groups: [], vpnIp: parseIp(PEER), vpnAddrs: [parseIp(PEER)], remoteCidrs: null, caName: 'Test CA', caSha: 'aa'.repeat(32), ...o };
}

function fwConfig(inbound: unknown[], outbound: unknown[] = [], conntrack: Record<string, unknown> = {}): NodeConfig['firewall'] {
  return parseConfig({ pki: { ca: 'a', cert: 'b', key: 'c' }, firewall: { inbound, outbound, conntrack } }, 'test').config.firewall;
}

function firewall(inbound: unknown[], outbound: unknown[] = [], conntrack: Record<string, unknown> = {}, extra: IpPrefix[] = []): Firewall {
  return Firewall.fromConfig(fwConfig(inbound, outbound, conntrack), MY_CIDRS, { extraLocalCidrs: extra });
}

const T0 = 1_000_000;

describe('ip-packet', () => {
  it('orients the tuple by direction', () => {
    const buf = packet({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1111, dport: 2222, proto: PROTO_UDP });
    assert.deepEqual(parseIpPacket(buf, true), {
      localIp: parseIp('10.0.0.2'), remoteIp: parseIp('10.0.0.1'), localPort: 2222, remotePort: 1111, protocol: PROTO_UDP, fragment: false,
    });
    assert.deepEqual(parseIpPacket(buf, false), {
      localIp: parseIp('10.0.0.1'), remoteIp: parseIp('10.0.0.2'), localPort: 1111, remotePort: 2222, protocol: PROTO_UDP, fragment: false,
    });
  });
  it('honours IHL and reuses the out object', () => {
    const buf = packet({ src: '10.0.0.1', dst: '10.0.0.2', sport: 5, dport: 6, ihl: 6 });
    const out = parseIpPacket(new Uint8Array(40), false) ?? { localIp: 0, remoteIp: 0, localPort: 0, remotePort: 0, protocol: 0, fragment: false };
    const got = parseIpPacket(buf, true, out);
    assert.equal(got, out);
    assert.equal(out.localPort, 6);
    assert.equal(out.remotePort, 5);
  });
  it('gives ICMP and non-first fragments port 0', () => {
    const icmp = packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: PROTO_ICMP, sport: 0x0800, dport: 1 });
    assert.equal(parseIpPacket(icmp, true)!.localPort, 0);
    const frag = packet({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, fragOffset: 185 });
    const p = parseIpPacket(frag, true)!;
    assert.equal(p.fragment, true);
    assert.equal(p.localPort, 0);
    const first = packet({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, moreFragments: true });
    assert.equal(parseIpPacket(first, true)!.fragment, false, 'the first fragment (offset 0) has ports');
  });
  it('rejects malformed packets', () => {
    assert.equal(parseIpPacket(new Uint8Array(19), true), null);
    const v6 = packet({ src: '10.0.0.1', dst: '10.0.0.2' });
    v6[0] = 0x60;
    assert.equal(parseIpPacket(v6, true), null);
    const badIhl = packet({ src: '10.0.0.1', dst: '10.0.0.2' });
    badIhl[0] = 0x44;
    assert.equal(parseIpPacket(badIhl, true), null);
    assert.equal(parseIpPacket(packet({ src: '10.0.0.1', dst: '10.0.0.2', length: 22 }), true), null, 'tcp without 4 bytes of ports');
    assert.notEqual(parseIpPacket(packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: PROTO_ICMP, length: 20 }), true), null);
    assert.notEqual(parseIpPacket(packet({ src: '10.0.0.1', dst: '10.0.0.2', fragOffset: 3, length: 20 }), true), null);
    assert.equal(parseIpPacket(packet({ src: '10.0.0.1', dst: '10.0.0.2', ihl: 6, length: 24 }), true), null, 'IHL beyond data');
  });
});

describe('firewall rules', () => {
  it('drops everything by default', () => {
    const fw = firewall([]);
    assert.equal(fw.inbound(fromPeer(22), peer(), T0), DROP_NO_RULE);
    assert.equal(fw.outbound(toPeer(22), peer(), T0), DROP_NO_RULE);
    assert.equal(fw.stats.inbound.droppedNoRule, 1);
  });

  it('allows a listed port and drops others', () => {
    const fw = firewall([{ port: 443, proto: 'tcp', host: 'any' }]);
    assert.equal(fw.inbound(fromPeer(443), peer(), T0), null);
    assert.equal(fw.inbound(fromPeer(444), peer(), T0), DROP_NO_RULE);
    assert.equal(fw.inbound(fromPeer(443, { proto: PROTO_UDP }), peer(), T0), DROP_NO_RULE, 'wrong protocol');
    assert.equal(fw.stats.inbound.allowedByRule, 1);
  });

  it('checks the local port inbound and the remote port outbound', () => {
    const fw = firewall([{ port: 22, proto: 'tcp', host: 'any' }], [{ port: 53, proto: 'udp', host: 'any' }]);
    assert.equal(fw.inbound(packet({ src: PEER, dst: ME, sport: 22, dport: 5000 }), peer(), T0), DROP_NO_RULE, 'source port 22 is not enough');
    assert.equal(fw.inbound(packet({ src: PEER, dst: ME, sport: 5000, dport: 22 }), peer(), T0), null);
    assert.equal(fw.outbound(packet({ src: ME, dst: PEER, sport: 53, dport: 5000, proto: PROTO_UDP }), peer(), T0), DROP_NO_RULE);
    assert.equal(fw.outbound(packet({ src: ME, dst: PEER, sport: 5000, dport: 53, proto: PROTO_UDP }), peer(), T0), null);
  });

  it('matches port ranges', () => {
    const fw = firewall([{ port: '200-901', proto: 'tcp', host: 'any' }]);
    assert.equal(fw.inbound(fromPeer(199), peer(), T0), DROP_NO_RULE);
    assert.equal(fw.inbound(fromPeer(200), peer(), T0), null);
    assert.equal(fw.inbound(fromPeer(901, { sport: 1 }), peer(), T0), null);
    assert.equal(fw.inbound(fromPeer(902), peer(), T0), DROP_NO_RULE);
  });

  it('matches proto any and port any', () => {
    const fw = firewall([{ port: 'any', proto: 'any', host: 'any' }]);
    assert.equal(fw.inbound(fromPeer(1), peer(), T0), null);
    assert.equal(fw.inbound(fromPeer(2, { proto: PROTO_UDP }), peer(), T0), null);
    assert.equal(fw.inbound(fromPeer(0, { proto: 47 }), peer(), T0), null, 'GRE passes proto any');
  });

  it('lets ICMP through only port-any rules', () => {
    const fw = firewall([{ port: 'any', proto: 'icmp', host: 'any' }]);
    assert.equal(fw.inbound(fromPeer(0, { proto: PROTO_ICMP, sport: 0x0800 }), peer(), T0), null);
    assert.equal(fw.inbound(fromPeer(80), peer(), T0), DROP_NO_RULE, 'tcp not allowed by an icmp rule');
    const numbered = firewall([{ port: 8, proto: 'icmp', host: 'any' }]);
    assert.equal(numbered.inbound(fromPeer(8, { proto: PROTO_ICMP, sport: 8 }), peer(), T0), DROP_NO_RULE, 'ICMP has port 0');
    const other = firewall([{ port: 'any', proto: 'tcp', host: 'any' }]);
    assert.equal(other.inbound(fromPeer(0, { proto: PROTO_ICMP }), peer(), T0), DROP_NO_RULE);
  });

  it('lets non-first fragments through only fragment/any rules', () => {
    const frag = (o: Partial<PacketSpec> = {}) => fromPeer(443, { fragOffset: 100, length: 40, ...o });
    assert.equal(firewall([{ port: 443, proto: 'tcp', host: 'any' }]).inbound(frag(), peer(), T0), DROP_NO_RULE);
    assert.equal(firewall([{ port: 'fragment', proto: 'tcp', host: 'any' }]).inbound(frag(), peer(), T0), null);
    assert.equal(firewall([{ port: 'any', proto: 'tcp', host: 'any' }]).inbound(frag(), peer(), T0), null);
    assert.equal(firewall([{ port: 'fragment', proto: 'any', host: 'any' }]).inbound(fromPeer(443), peer(), T0), DROP_NO_RULE, 'fragment rules do not match whole packets');
    assert.equal(firewall([{ port: 'fragment', proto: 'icmp', host: 'any' }]).inbound(frag({ proto: PROTO_ICMP }), peer(), T0), null);
  });

  it('matches host names', () => {
    const fw = firewall([{ port: 'any', proto: 'any', host: 'alice' }]);
    assert.equal(fw.inbound(fromPeer(1), peer({ name: 'alice' }), T0), null);
    assert.equal(fw.inbound(fromPeer(2), peer({ name: 'bob' }), T0), DROP_NO_RULE);
  });

  it('matches a single group', () => {
    const fw = firewall([{ port: 22, proto: 'tcp', group: 'admins' }]);
    assert.equal(fw.inbound(fromPeer(22), peer({ groups: ['users', 'admins'] }), T0), null);
    assert.equal(fw.inbound(fromPeer(22, { sport: 2 }), peer({ groups: ['users'] }), T0), DROP_NO_RULE);
    const any = firewall([{ port: 22, proto: 'tcp', group: 'any' }]);
    assert.equal(any.inbound(fromPeer(22), peer({ groups: [] }), T0), null);
  });

  it('requires all of groups (AND), while separate rules OR', () => {
    const fw = firewall([{ port: 443, proto: 'tcp', groups: ['laptop', 'home'] }]);
    assert.equal(fw.inbound(fromPeer(443, { sport: 1 }), peer({ groups: ['laptop'] }), T0), DROP_NO_RULE);
    assert.equal(fw.inbound(fromPeer(443, { sport: 2 }), peer({ groups: ['home'] }), T0), DROP_NO_RULE);
    assert.equal(fw.inbound(fromPeer(443, { sport: 3 }), peer({ groups: ['home', 'x', 'laptop'] }), T0), null);
    const either = firewall([
      { port: 443, proto: 'tcp', groups: ['laptop'] },
      { port: 443, proto: 'tcp', groups: ['home'] },
    ]);
    assert.equal(either.inbound(fromPeer(443), peer({ groups: ['home'] }), T0), null);
  });

  it('ORs host, groups and cidr within one rule', () => {
    const fw = firewall([{ port: 'any', proto: 'any', host: 'alice', groups: ['ops'], cidr: '10.1.0.0/24' }]);
    const far = peer({ vpnIp: parseIp('10.1.9.9') });
    const pkt = (n: number) => packet({ src: '10.1.9.9', dst: ME, sport: n, dport: 1 });
    assert.equal(fw.inbound(pkt(1), { ...far, name: 'alice' }, T0), null);
    assert.equal(fw.inbound(pkt(2), { ...far, groups: ['ops'] }, T0), null);
    assert.equal(fw.inbound(pkt(3), far, T0), DROP_NO_RULE);
    assert.equal(fw.inbound(fromPeer(1), peer(), T0), null, '10.1.0.2 is inside the cidr');
  });

  it('matches cidr against the remote address', () => {
    const fw = firewall([{ port: 'any', proto: 'any', cidr: '10.1.0.0/30' }], [{ port: 'any', proto: 'any', cidr: '10.1.0.2/32' }]);
    assert.equal(fw.inbound(fromPeer(1), peer(), T0), null);
    const other = peer({ vpnIp: parseIp('10.1.0.9') });
    assert.equal(fw.inbound(packet({ src: '10.1.0.9', dst: ME, sport: 9, dport: 1 }), other, T0), DROP_NO_RULE);
    assert.equal(fw.outbound(toPeer(77), peer(), T0), null);
    assert.equal(fw.outbound(packet({ src: ME, dst: '10.1.0.9', sport: 1, dport: 2 }), other, T0), DROP_NO_RULE);
    const all = firewall([{ port: 'any', proto: 'any', cidr: '0.0.0.0/0' }]);
    assert.equal(all.inbound(fromPeer(5), peer(), T0), null);
  });

  it('restricts by ca_name / ca_sha (OR between them), AND with the peer selectors', () => {
    const sha = 'bb'.repeat(32);
    const byName = firewall([{ port: 'any', proto: 'any', ca_name: 'Other CA' }]);
    assert.equal(byName.inbound(fromPeer(1), peer(), T0), DROP_NO_RULE);
    assert.equal(byName.inbound(fromPeer(1), peer({ caName: 'Other CA' }), T0), null, 'ca_name alone = any host of that CA');
    const bySha = firewall([{ port: 'any', proto: 'any', ca_sha: sha }]);
    assert.equal(bySha.inbound(fromPeer(1), peer(), T0), DROP_NO_RULE);
    assert.equal(bySha.inbound(fromPeer(1), peer({ caSha: sha }), T0), null);
    const both = firewall([{ port: 'any', proto: 'any', ca_name: 'X', ca_sha: sha }]);
    assert.equal(both.inbound(fromPeer(2), peer({ caSha: sha }), T0), null, 'sha matches, name does not');
    assert.equal(both.inbound(fromPeer(3), peer({ caName: 'X' }), T0), null, 'name matches, sha does not');
    assert.equal(both.inbound(fromPeer(4), peer(), T0), DROP_NO_RULE);
    const withHost = firewall([{ port: 'any', proto: 'any', ca_name: 'Test CA', host: 'alice' }]);
    assert.equal(withHost.inbound(fromPeer(1), peer({ name: 'bob' }), T0), DROP_NO_RULE);
    assert.equal(withHost.inbound(fromPeer(1), peer({ name: 'alice' }), T0), null);
  });

  it('reports bad rules naming the key', () => {
    const cfg = fwConfig([{ port: 443, proto: 'tcp', host: 'any' }]);
    const broken: NodeConfig['firewall'] = { ...cfg, inbound: [cfg.inbound[0]!, { ...cfg.inbound[0]!, startPort: 900, endPort: 200 }] };
    assert.throws(() => Firewall.fromConfig(broken, MY_CIDRS), (e: unknown) => e instanceof UserError && e.message.startsWith('config: firewall.inbound[1].port:'));
    const noSel: NodeConfig['firewall'] = { ...cfg, outbound: [{ ...cfg.inbound[0]!, host: null }] };
    assert.throws(() => Firewall.fromConfig(noSel, MY_CIDRS), /firewall\.outbound\[0\]: at least one of host/);
  });
});

describe('address checks', () => {
  const allowAll = [{ port: 'any', proto: 'any', host: 'any' }];

  it('requires the remote address to be the peer VPN IP when its cert has one IP and no subnets', () => {
    const fw = firewall(allowAll, allowAll);
    assert.equal(fw.inbound(packet({ src: '10.1.0.3', dst: ME, sport: 1, dport: 2 }), peer(), T0), DROP_REMOTE_IP);
    assert.equal(fw.outbound(packet({ src: ME, dst: '10.1.0.3', sport: 1, dport: 2 }), peer(), T0), DROP_REMOTE_IP);
    assert.equal(fw.stats.inbound.droppedRemoteIp, 1);
    assert.equal(fw.stats.outbound.droppedRemoteIp, 1);
  });

  it('accepts addresses in the peer cert subnets when it has any', () => {
    const fw = firewall(allowAll, allowAll);
    const routed = peer({ remoteCidrs: peerRemoteCidrs([parseIpNetwork(`${PEER}/16`)], [parseIpNetwork('192.168.50.0/24')]) });
    assert.equal(fw.inbound(packet({ src: '192.168.50.7', dst: ME, sport: 1, dport: 2 }), routed, T0), null);
    assert.equal(fw.inbound(fromPeer(3), routed, T0), null, 'its own VPN IP (/32) too');
    assert.equal(fw.inbound(packet({ src: '192.168.51.7', dst: ME, sport: 1, dport: 2 }), routed, T0), DROP_REMOTE_IP);
    assert.equal(fw.inbound(packet({ src: '10.1.0.3', dst: ME, sport: 1, dport: 2 }), routed, T0), DROP_REMOTE_IP, 'cert IP counts as /32, not its network');
    assert.equal(peerRemoteCidrs([parseIpNetwork(`${PEER}/16`)], []), null);
    assert.deepEqual(peerRemoteCidrs([parseIpNetwork('10.1.0.2/16'), parseIpNetwork('10.2.0.2/16')], []), [
      prefix('10.1.0.2/32'),
      prefix('10.2.0.2/32'),
    ]);
  });

  it('requires the local address to be ours (cert IP /32, cert subnets, extra CIDRs)', () => {
    const fw = firewall(allowAll, allowAll);
    assert.equal(fw.inbound(packet({ src: PEER, dst: '10.1.0.5', sport: 1, dport: 2 }), peer(), T0), DROP_LOCAL_IP);
    assert.equal(fw.outbound(packet({ src: '10.1.0.5', dst: PEER, sport: 1, dport: 2 }), peer(), T0), DROP_LOCAL_IP);
    assert.equal(fw.stats.inbound.droppedLocalIp, 1);
    const withSubnet = Firewall.fromConfig(fwConfig(allowAll), localCidrsFromCert([parseIpNetwork(`${ME}/16`)], [parseIpNetwork('172.20.0.0/16')]));
    assert.equal(withSubnet.inbound(packet({ src: PEER, dst: '172.20.3.4', sport: 1, dport: 2 }), peer(), T0), null);
    const withExtra = firewall(allowAll, [], {}, [prefix('172.30.0.0/24')]);
    assert.equal(withExtra.inbound(packet({ src: PEER, dst: '172.30.0.9', sport: 1, dport: 2 }), peer(), T0), null);
    assert.equal(withExtra.inbound(packet({ src: PEER, dst: '172.30.1.9', sport: 1, dport: 2 }), peer(), T0), DROP_LOCAL_IP);
  });

  it('drops malformed packets', () => {
    const fw = firewall(allowAll);
    assert.equal(fw.inbound(new Uint8Array(10), peer(), T0), DROP_MALFORMED);
    assert.equal(fw.stats.inbound.droppedMalformed, 1);
  });
});

describe('conntrack', () => {
  it('lets replies to an allowed outbound flow back in, until it expires', () => {
    const fw = firewall([], [{ port: 'any', proto: 'any', host: 'any' }], { udp_timeout: '3m' });
    const out = packet({ src: ME, dst: PEER, sport: 5353, dport: 53, proto: PROTO_UDP });
    const reply = packet({ src: PEER, dst: ME, sport: 53, dport: 5353, proto: PROTO_UDP });
    assert.equal(fw.inbound(reply, peer(), T0), DROP_NO_RULE, 'no flow yet');
    assert.equal(fw.outbound(out, peer(), T0), null);
    assert.equal(fw.stats.conntrack.size, 1);
    assert.equal(fw.inbound(reply, peer(), T0 + 1000), null);
    assert.equal(fw.stats.inbound.allowedByConntrack, 1);
    // Each hit refreshes the entry: alive 2.5 min after each hit, well past 3 min after creation.
    assert.equal(fw.inbound(reply, peer(), T0 + 1000 + 150_000), null);
    assert.equal(fw.inbound(reply, peer(), T0 + 1000 + 300_000), null);
    // 3 min after the last packet it is gone.
    assert.equal(fw.inbound(reply, peer(), T0 + 1000 + 300_000 + 180_000), DROP_NO_RULE);
    assert.equal(fw.stats.conntrack.size, 0);
    assert.ok(fw.stats.conntrack.expired >= 1);
  });

  it('uses per-protocol timeouts', () => {
    const fw = firewall([], [{ port: 'any', proto: 'any', host: 'any' }], { tcp_timeout: '10s', udp_timeout: '5s', default_timeout: '2s' });
    const flows = [PROTO_TCP, PROTO_UDP, PROTO_ICMP].map((proto) => ({
      out: packet({ src: ME, dst: PEER, sport: 1000, dport: 2000, proto }),
      back: packet({ src: PEER, dst: ME, sport: 2000, dport: 1000, proto }),
    }));
    for (const f of flows) assert.equal(fw.outbound(f.out, peer(), T0), null);
    const at = (ms: number) => flows.map((f) => fw.inbound(f.back, peer(), T0 + ms) === null);
    // Probe without refreshing anything that is already dead.
    assert.deepEqual(at(2500), [true, true, false]);
    assert.deepEqual(at(2500 + 5500), [true, false, false]);
    assert.deepEqual(at(2500 + 5500 + 10_001), [false, false, false]);
  });

  it('does not let another peer ride on a tracked flow', () => {
    const fw = firewall([], [{ port: 'any', proto: 'any', host: 'alice' }]);
    const alice = peer({ name: 'alice' });
    assert.equal(fw.outbound(toPeer(80), alice, T0), null);
    const mallory = peer({ name: 'mallory', vpnIp: parseIp('10.1.0.66'), remoteCidrs: [prefix('10.1.0.0/24')] });
    assert.equal(fw.inbound(packet({ src: PEER, dst: ME, sport: 80, dport: 40000 }), mallory, T0), DROP_NO_RULE);
    assert.equal(fw.inbound(packet({ src: PEER, dst: ME, sport: 80, dport: 40000 }), alice, T0), null);
  });

  it('bounds the table size, evicting the entry closest to expiry', () => {
    const fw = firewall([], [{ port: 'any', proto: 'any', host: 'any' }], { max_connections: 100 });
    for (let i = 0; i < 1000; i++) assert.equal(fw.outbound(toPeer(1000 + i), peer(), T0 + i), null);
    assert.equal(fw.stats.conntrack.size, 100);
    assert.equal(fw.stats.conntrack.evicted, 900);
    // The newest flows survive, the oldest are gone.
    assert.equal(fw.inbound(packet({ src: PEER, dst: ME, sport: 1999, dport: 40000 }), peer(), T0 + 1000), null);
    assert.equal(fw.inbound(packet({ src: PEER, dst: ME, sport: 1000, dport: 40000 }), peer(), T0 + 1000), DROP_NO_RULE);
  });

  it('purges expired entries so memory does not grow', () => {
    const fw = firewall([], [{ port: 'any', proto: 'any', host: 'any' }], { udp_timeout: '1s' });
    for (let i = 0; i < 5000; i++) {
      fw.outbound(packet({ src: ME, dst: PEER, sport: i + 1, dport: 53, proto: PROTO_UDP }), peer(), T0 + i * 10);
    }
    // With a 1 s timeout and one new flow every 10 ms only ~100 can be alive at once.
    assert.ok(fw.stats.conntrack.size <= 101, `size ${fw.stats.conntrack.size}`);
    assert.equal(fw.stats.conntrack.evicted, 0);
    fw.purge(T0 + 5000 * 10 + 2000);
    assert.equal(fw.stats.conntrack.size, 0);
  });

  it('keeps conntrack across a reload but re-checks old entries against the new rules', () => {
    const fw1 = firewall([{ port: 22, proto: 'tcp', host: 'any' }, { port: 80, proto: 'tcp', host: 'any' }]);
    const ssh = fromPeer(22);
    const web = fromPeer(80);
    const sshReply = packet({ src: ME, dst: PEER, sport: 22, dport: 40000 });
    const webReply = packet({ src: ME, dst: PEER, sport: 80, dport: 40000 });
    assert.equal(fw1.inbound(ssh, peer(), T0), null);
    assert.equal(fw1.inbound(web, peer(), T0), null);
    assert.equal(fw1.outbound(sshReply, peer(), T0), null, 'reply allowed by conntrack (no outbound rules)');
    // Reload: port 80 is no longer allowed.
    const fw2 = fw1.withRules(fwConfig([{ port: 22, proto: 'tcp', host: 'any' }]));
    assert.equal(fw2.conntrack, fw1.conntrack);
    assert.equal(fw2.stats.conntrack.size, 2);
    assert.equal(fw2.outbound(sshReply, peer(), T0 + 10), null, 'still-allowed flow survives the reload');
    assert.equal(fw2.outbound(webReply, peer(), T0 + 10), DROP_NO_RULE, 'flow no longer allowed is dropped (re-checked lazily)');
    assert.equal(fw2.stats.conntrack.size, 1);
    assert.equal(fw2.inbound(web, peer(), T0 + 20), DROP_NO_RULE);
    // A fresh firewall (no carried conntrack) would drop the ssh reply.
    const fresh = firewall([{ port: 22, proto: 'tcp', host: 'any' }]);
    assert.equal(fresh.outbound(sshReply, peer(), T0 + 10), DROP_NO_RULE);
  });

  it('withRules can also switch the local CIDRs (cert reload)', () => {
    const allow = [{ port: 'any', proto: 'any', host: 'any' }];
    const fw1 = firewall(allow);
    const fw2 = fw1.withRules(fwConfig(allow), localCidrsFromCert([parseIpNetwork('10.1.0.7/16')], []));
    assert.equal(fw2.inbound(packet({ src: PEER, dst: '10.1.0.7', sport: 1, dport: 2 }), peer(), T0), null);
    assert.equal(fw2.inbound(packet({ src: PEER, dst: ME, sport: 1, dport: 3 }), peer(), T0), DROP_LOCAL_IP);
  });
});

describe('IPv6 and several addresses (v2 certificates)', () => {
  const ME6 = 'fd00::1';
  const PEER6 = 'fd00::2';
  const big = (text: string): bigint => parseIpNetwork(`${text}/128`).addr;
  const myNetworks = [parseIpNetwork(`${ME}/16`), parseIpNetwork(`${ME6}/64`)];
  const peerNetworks = [parseIpNetwork(`${PEER}/16`), parseIpNetwork(`${PEER6}/64`)];
  const dual = (o: Partial<PeerIdentity> = {}): PeerIdentity =>
    peer({ vpnAddrs: [parseIp(PEER), big(PEER6)], remoteCidrs: peerRemoteCidrs(peerNetworks, []), ...o });

  function packet6(s: { src: string; dst: string; proto?: number; sport?: number; dport?: number; fragOffset?: number }): Uint8Array {
    const frag = s.fragOffset !== undefined;
    const buf = new Uint8Array(40 + (frag ? 8 : 0) + 8);
    const dv = new DataView(buf.buffer);
    buf[0] = 0x60;
    dv.setUint16(4, buf.length - 40);
    buf[6] = frag ? 44 : (s.proto ?? PROTO_TCP);
    buf[7] = 64;
    buf.set(parseIpNetwork(`${s.src}/128`).addr.toString(16).padStart(32, '0').match(/../g)!.map((h) => parseInt(h, 16)), 8);
    buf.set(parseIpNetwork(`${s.dst}/128`).addr.toString(16).padStart(32, '0').match(/../g)!.map((h) => parseInt(h, 16)), 24);
    let at = 40;
    if (frag) {
      buf[40] = s.proto ?? PROTO_TCP;
      dv.setUint16(42, (s.fragOffset! << 3) | 1);
      at = 48;
    }
    dv.setUint16(at, s.sport ?? 0);
    dv.setUint16(at + 2, s.dport ?? 0);
    return buf;
  }

  function firewall6(inbound: unknown[], outbound: unknown[] = []): Firewall {
    return Firewall.fromConfig(fwConfig(inbound, outbound), localCidrsFromCert(myNetworks, []));
  }

  it('allows by rule and tracks v6 flows; the reply matches the same entry', () => {
    const fw = firewall6([{ port: 443, proto: 'tcp', host: 'any' }]);
    assert.equal(fw.inbound(packet6({ src: PEER6, dst: ME6, sport: 5555, dport: 443 }), dual(), T0), null);
    assert.equal(fw.inbound(packet6({ src: PEER6, dst: ME6, sport: 5555, dport: 444 }), dual(), T0), DROP_NO_RULE);
    assert.equal(fw.outbound(packet6({ src: ME6, dst: PEER6, sport: 443, dport: 5555 }), dual(), T0 + 1), null, 'the reply');
    assert.equal(fw.stats.outbound.allowedByConntrack, 1);
    const entries = [...fw.conntrack.entries()];
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.localIp, big(ME6));
    assert.equal(entries[0]!.peerVpnIp, parseIp(PEER));
  });

  it('v4 and v6 flows with the same low bits never share an entry', () => {
    const fw = firewall6([{ port: 'any', proto: 'udp', host: 'any' }]);
    const v4 = packet({ src: PEER, dst: ME, proto: PROTO_UDP, sport: 1, dport: 2 });
    assert.equal(fw.inbound(v4, dual(), T0), null);
    assert.equal(fw.conntrack.size, 1);
    assert.equal(fw.inbound(packet6({ src: PEER6, dst: ME6, proto: PROTO_UDP, sport: 1, dport: 2 }), dual(), T0), null);
    assert.equal(fw.conntrack.size, 2);
  });

  it('the remote address must be one of the peer certificate networks, the local one ours', () => {
    const fw = firewall6([{ port: 'any', proto: 'any', host: 'any' }]);
    assert.equal(fw.inbound(packet6({ src: 'fd00::99', dst: ME6, sport: 1, dport: 2 }), dual(), T0), DROP_REMOTE_IP);
    assert.equal(fw.inbound(packet6({ src: PEER6, dst: 'fd00::77', sport: 1, dport: 2 }), dual(), T0), DROP_LOCAL_IP);
    // A v4-only firewall (v1 certificate) has no IPv6 local address.
    const v4only = firewall([{ port: 'any', proto: 'any', host: 'any' }]);
    assert.equal(v4only.inbound(packet6({ src: PEER6, dst: ME6, sport: 1, dport: 2 }), dual(), T0), DROP_LOCAL_IP);
  });

  it('cidr and local_cidr rules take IPv6 prefixes', () => {
    const fw = firewall6([
      { port: 22, proto: 'tcp', cidr: 'fd00::/120' },
      { port: 80, proto: 'tcp', host: 'any', local_cidr: 'fd00::1/128' },
    ]);
    assert.equal(fw.inbound(packet6({ src: PEER6, dst: ME6, dport: 22 }), dual(), T0), null);
    assert.equal(fw.inbound(packet({ src: PEER, dst: ME, dport: 22 }), dual(), T0), DROP_NO_RULE, 'an IPv6 cidr does not match IPv4');
    assert.equal(fw.inbound(packet6({ src: PEER6, dst: ME6, dport: 80 }), dual(), T0), null);
    assert.equal(fw.inbound(packet({ src: PEER, dst: ME, dport: 80 }), dual(), T0), DROP_NO_RULE, 'local_cidr names our IPv6 address only');
    const any6 = firewall6([{ port: 'any', proto: 'any', cidr: '::/0' }]);
    assert.equal(any6.inbound(packet({ src: PEER, dst: ME, dport: 9 }), dual(), T0), null, '::/0 is any peer, as 0.0.0.0/0');
    assert.throws(() => firewall6([{ port: 1, proto: 'tcp', cidr: 'fd00::/129' }]), /firewall\.inbound\[0\]\.cidr/);
    assert.throws(() => firewall6([{ port: 1, proto: 'tcp', host: 'any', local_cidr: 'nope' }]), /firewall\.inbound\[0\]\.local_cidr/);
  });

  it('ICMPv6 matches icmp rules; non-first fragments only fragment rules; unknown protocols only proto any', () => {
    const fw = firewall6([
      { port: 'any', proto: 'icmp', host: 'any' },
      { port: 'fragment', proto: 'tcp', host: 'any' },
    ]);
    assert.equal(fw.inbound(packet6({ src: PEER6, dst: ME6, proto: PROTO_ICMPV6 }), dual(), T0), null);
    assert.equal(fw.inbound(packet6({ src: PEER6, dst: ME6, proto: PROTO_TCP, fragOffset: 100 }), dual(), T0), null);
    assert.equal(fw.inbound(packet6({ src: PEER6, dst: ME6, proto: 132, sport: 1, dport: 2 }), dual(), T0), DROP_NO_RULE);
    const anyProto = firewall6([{ port: 'any', proto: 'any', host: 'any' }]);
    assert.equal(anyProto.inbound(packet6({ src: PEER6, dst: ME6, proto: 132 }), dual(), T0), null);
  });

  it('a packet whose extension headers cannot be parsed is dropped as malformed', () => {
    const fw = firewall6([{ port: 'any', proto: 'any', host: 'any' }]);
    const bad = packet6({ src: PEER6, dst: ME6, sport: 1, dport: 2 });
    bad[6] = 0; // hop-by-hop ...
    bad[41] = 200; // ... longer than the packet
    assert.equal(fw.inbound(bad, dual(), T0), DROP_MALFORMED);
    assert.equal(fw.stats.inbound.droppedMalformed, 1);
  });
});
