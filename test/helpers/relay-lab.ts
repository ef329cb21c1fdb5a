/**
 * A split underlay for relay tests (root only), a Lab (see src/lab/lab.ts) with namespaces
 * "mrl<id>…": two bridges in one switch namespace, side "a" (172.31.61.0/24) and side "b"
 * (172.31.62.0/24). A host joins one side or both; a host on both sides never forwards IP
 * (ip_forward=0), and no host has a route to the other side's network, so a host on side a can only
 * reach a host on side b through the overlay, via a node on both sides. Overlay addresses are
 * 172.31.190.<n>/24.
 */
import { MemoryNetwork } from '../../src/io/memory.js';
import { nodeCommand, READY, type Impl } from '../../src/lab/binaries.js';
import { Lab, type LabNode } from '../../src/lab/lab.js';
import type { CleanupHost } from '../../src/lab/netns.js';
import { makeCA, makeHost } from '../../src/lab/pki.js';
import { sleep } from '../../src/lab/wait.js';
import { parseIp } from '../../src/net/ipv4.js';
import { MessageType } from '../../src/protocol/header.js';
import { emptyMetaDetails, encodeMeta, MetaType } from '../../src/protocol/messages.js';
import { startMemoryNode } from './memory-mesh.js';
import { icmpEcho } from './packets.js';

export type Side = 'a' | 'b';

export interface RelayLabHostOptions {
  impl: Impl;
  sides: Side[];
  amLighthouse?: boolean;
  /** Names of lighthouse hosts. */
  lighthouses?: string[];
  /** Names of hosts put in static_host_map (lighthouses are added automatically). */
  knows?: string[];
  amRelay?: boolean;
  /** Names of hosts that may relay to this one (relay.relays). */
  relays?: string[];
  /** No TUN device (relays and lighthouses need none). */
  tunDisabled?: boolean;
}

export interface RelayLabHost extends RelayLabHostOptions, LabNode {
  underlay: Partial<Record<Side, string>>;
}

const SIDES: Side[] = ['a', 'b'];
const SIDE_NET: Record<Side, number> = { a: 61, b: 62 };

export class RelayLab extends Lab<RelayLabHost> {
  private constructor() {
    super({ kind: 'relay', namePrefix: 'mrl', pki: 'nebula-cert', underlay: { bridges: SIDES.length } });
  }

  static create(t: CleanupHost): RelayLab {
    return new RelayLab().cleanupAfter(t);
  }

  async addHost(name: string, options: RelayLabHostOptions): Promise<RelayLabHost> {
    const ns = await this.hostNamespace(name, 8);
    const n = this.hosts.size + 1;
    await this.lab.sysctl(ns, 'net.ipv4.ip_forward', 0);
    const underlay: Partial<Record<Side, string>> = {};
    for (const side of options.sides) {
      const dev = await this.plug(ns, SIDES.indexOf(side));
      underlay[side] = `172.31.${SIDE_NET[side]}.${n}`;
      await this.lab.address(ns, dev, `${underlay[side]}/24`);
    }
    const host: RelayLabHost = { ...options, name, ns, vpnIp: `172.31.190.${n}`, underlay, ...this.nodeFiles(name) };
    this.hosts.set(name, host);
    return host;
  }

  /** The addresses of `other` that `host` can reach (the sides they share). */
  private reachable(host: RelayLabHost, other: RelayLabHost): string[] {
    return other.sides.filter((s) => host.sides.includes(s)).map((s) => `${other.underlay[s]}:4242`);
  }

  private configFor(host: RelayLabHost): Record<string, unknown> {
    const staticHostMap: Record<string, string[]> = {};
    for (const name of [...(host.knows ?? []), ...(host.lighthouses ?? [])]) {
      const other = this.host(name);
      staticHostMap[other.vpnIp] = this.reachable(host, other);
    }
    const relay: { am_relay?: boolean; relays?: string[] } = {};
    if (host.amRelay) relay.am_relay = true;
    if (host.relays) relay.relays = host.relays.map((n) => this.host(n).vpnIp);
    return this.nodeConfig(host, {
      listen: { host: '0.0.0.0', port: 4242 },
      staticHostMap,
      amLighthouse: host.amLighthouse ?? false,
      lighthouses: (host.lighthouses ?? []).map((n) => this.host(n).vpnIp),
      relay,
      tun: { disabled: host.tunDisabled ?? false, dev: host.tunDev, mtu: 1300 },
      logLevel: 'debug',
      extra: { handshakes: { try_interval: '100ms', retries: 20 } },
    });
  }

  async start(name: string, timeoutMs = 15_000): Promise<void> {
    const host = this.host(name);
    await this.certify(host);
    this.writeConfig(host, this.configFor(host));
    await this.launch(host, nodeCommand(host.impl, host.configPath), READY[host.impl], { timeoutMs });
  }

  protected override describe(host: RelayLabHost): string {
    return `${host.impl} ${host.name}`;
  }

  /** Whether `from` can reach `to`'s address on `side` outside the overlay (it must not, across sides). */
  async underlayReachable(from: string, to: string, side: Side): Promise<boolean> {
    const r = await this.lab.exec(this.host(from).ns, 'ping', ['-n', '-c', '1', '-W', '1', this.host(to).underlay[side]!], { timeoutMs: 5000 });
    return r.code === 0;
  }
}

/**
 * Whether this build's mesh lighthouse client takes a peer's relays from a lighthouse answer
 * (needed by any mesh node at the end of a relay: Nebula 1.6 has no other way to learn them).
 * Probed in memory: A asks its lighthouse L about X, L answers that X uses relay R.
 */
export async function meshLearnsRelaysFromLighthouse(): Promise<boolean> {
  const ca = makeCA('Probe CA', { ips: ['10.44.0.0/16'] });
  const net = new MemoryNetwork();
  const [ipA, ipL, ipX, ipR] = ['10.44.0.1', '10.44.0.2', '10.44.0.3', '10.44.0.4'];
  const l = await startMemoryNode(net, makeHost(ca, 'l', `${ipL}/16`), '192.0.2.2');
  const a = await startMemoryNode(net, makeHost(ca, 'a', `${ipA}/16`), '192.0.2.1', { staticHostMap: { [ipL]: ['192.0.2.2:4242'] }, lighthouses: [ipL] });
  try {
    a.tun.inject([icmpEcho(ipA, ipX, 8, 1, 1)]);
    const deadline = Date.now() + 2000;
    while (!l.node.hostmap.get(parseIp(ipA))?.established) {
      if (Date.now() > deadline) return false;
      await sleep(10);
    }
    const answer = encodeMeta(MetaType.HostQueryReply, { ...emptyMetaDetails(), vpnIp: parseIp(ipX), ip4AndPorts: [{ ip: parseIp('192.0.2.3'), port: 4242 }], relayVpnIps: [parseIp(ipR)] });
    l.node.sendOn(l.node.hostmap.get(parseIp(ipA))!, MessageType.LightHouse, 0, answer);
    while (Date.now() < deadline + 1000) {
      if (a.node.hostmap.peekRemotes(parseIp(ipX))?.relays.includes(parseIp(ipR))) return true;
      await sleep(10);
    }
    return false;
  } finally {
    await a.stop();
    await l.stop();
  }
}
