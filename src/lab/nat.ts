/**
 * NAT lab for root-only NAT-traversal tests and the demo, a Lab (see lab.ts).
 *
 * Layout (every name starts with "mnt" (or the namePrefix option) + the lab id; nothing is created
 * in the root namespace):
 *
 *   "internet" namespace: one bridge, nothing else (no routing, no filtering).
 *   public nodes (lighthouses, relays): own namespace, veth to the internet bridge,
 *     address 198.18.<net>.<10+i>/24 (RFC 2544 benchmark range; traffic never leaves the lab).
 *   home routers: own namespace, WAN veth on the internet bridge (198.18.<net>.<100+i>/24) and a
 *     LAN veth to the namespace of the one host behind it (LAN 10.<net>.<i>.0/24: router .1, host
 *     .2). The router forwards (ip_forward=1), masquerades everything leaving the WAN
 *     (`--random-fully` for an endpoint-dependent, "symmetric" NAT) and, like a home router, drops
 *     unsolicited new inbound packets addressed to itself. Without that drop, conntrack would keep
 *     an entry for the first unsolicited punch and remap the outbound port, and punching would fail
 *     for every implementation, Nebula included.
 *   overlay: 100.64.<net>.<1+i>/24 in the order nodes are added.
 *
 * Every node has a real TUN device and runs `nebula -config X` or the mesh CLI in its namespace; we
 * keep PIDs and stop by PID. Paths are proven from the network: each router counts, per public
 * destination, the large UDP packets it forwards out of its WAN (iptables counters), so "direct"
 * means data flowed to the other router's public address and "relayed" means it flowed to the relay.
 *
 */
import { MESH_BIN, nodeCommand, type Impl } from './binaries.js';
import { ALLOW_ALL } from './configs.js';
import { checkNet, Lab, withLab, type LabNode } from './lab.js';
import { run, type CleanupHost } from './netns.js';

export type NatKind = 'cone' | 'symmetric';
export type NodeRole = 'lighthouse' | 'relay' | 'host';

export interface NatRouter {
  name: string;
  ns: string;
  kind: NatKind;
  wanDev: string;
  publicIp: string;
  lanNet: string;
  /** Destinations whose forwarded packets are counted (see watch()). */
  watched: Set<string>;
}

export interface NatNode extends LabNode {
  impl: Impl;
  role: NodeRole;
  /** The router this node sits behind, or undefined for a node on the internet. */
  router?: NatRouter;
  dev: string;
  /** The node's own underlay address (LAN address behind a router, public address otherwise). */
  underlayIp: string;
  listenPort: number;
  /** Top-level config sections merged over the lab's (e.g. mesh's `stun`). */
  extra?: Record<string, unknown>;
}

export interface NatLabOptions {
  /** Distinguishes address plans of labs that may coexist (1..250). Default 1. */
  net?: number;
  /** Called with a plain-words description of each step (NAT_VERBOSE=1 prints them to stderr). */
  say?: (message: string) => void;
  /** Starts every namespace name (default "mnt"). */
  namePrefix?: string;
}

/** Settings shared by all nodes of a lab, shortened so that scenarios finish in seconds. */
const FAST = {
  lighthouseInterval: 1,
  punchDelay: '500ms',
  handshakeTryInterval: '200ms',
  handshakeRetries: 20,
  connectionAliveInterval: 1,
  pendingDeletionInterval: 2,
};

/** UDP packets at least this long carry overlay data (a 56-byte ping is 144 bytes on the wire); punches, tests and keepalives are shorter. */
const DATA_PACKET_MIN_BYTES = 120;
/** u32 match: the low nibble of the first UDP payload byte (the Nebula header type) is 1 (message). */
const NEBULA_MESSAGE_U32 = '0>>22&0x3C@8>>24&0x0F=1';

let meshLighthouseCommand: Promise<boolean> | undefined;

/** Whether the mesh CLI has a dedicated `lighthouse` command (otherwise `node` with am_lighthouse runs lighthouses). */
function meshHasLighthouseCommand(): Promise<boolean> {
  meshLighthouseCommand ??= run(process.execPath, [MESH_BIN, '--help']).then((r) => /^\s+lighthouse\b/m.test(r.stdout));
  return meshLighthouseCommand;
}

export class NatLab extends Lab<NatNode> {
  readonly net: number;
  readonly routers = new Map<string, NatRouter>();
  private publicCount = 0;
  private readdressCount = 0;

  private constructor(options: NatLabOptions) {
    const net = checkNet(options.net, 250);
    super({ ...options, kind: 'nat', namePrefix: options.namePrefix ?? 'mnt', pki: 'nebula-cert', underlay: { label: 'inet', description: `the "internet" (198.18.${net}.0/24)` } });
    this.net = net;
  }

  /** Creates a lab; with a test context, cleanup() runs when the test ends (pass or fail). */
  static create(t?: CleanupHost, options: NatLabOptions = {}): NatLab {
    return new NatLab(options).cleanupAfter(t);
  }

  router(name: string): NatRouter {
    const r = this.routers.get(name);
    if (!r) throw new Error(`no router ${name}`);
    return r;
  }

  /** Adds a home router with a public WAN address and a LAN for one host behind it. */
  async addRouter(name: string, kind: NatKind = 'cone'): Promise<NatRouter> {
    const i = this.routers.size + 1;
    const ns = await this.hostNamespace(name, 6, this.routers, `r${name}`);
    const wanDev = await this.plug(ns);
    const publicIp = `198.18.${this.net}.${100 + i}`;
    await this.lab.address(ns, wanDev, `${publicIp}/24`);
    await this.lab.sysctl(ns, 'net.ipv4.ip_forward', 1);
    const masquerade = ['-t', 'nat', '-A', 'POSTROUTING', '-o', wanDev, '-j', 'MASQUERADE'];
    if (kind === 'symmetric') masquerade.push('--random-fully');
    await this.lab.execOk(ns, 'iptables', masquerade);
    await this.lab.execOk(ns, 'iptables', ['-A', 'INPUT', '-i', wanDev, '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP']);
    // Counting chain: one RETURN rule per watched destination, its counters read by forwarded().
    await this.lab.execOk(ns, 'iptables', ['-N', 'MNTCOUNT']);
    await this.lab.execOk(ns, 'iptables', ['-A', 'FORWARD', '-o', wanDev, '-p', 'udp', '-m', 'length', '--length', `${DATA_PACKET_MIN_BYTES}:65535`, '-j', 'MNTCOUNT']);
    // Nebula message packets only (header type 1: tunnelled data and relay frames), not handshakes.
    await this.lab.execOk(ns, 'iptables', ['-N', 'MNTDATA']);
    await this.lab.execOk(ns, 'iptables', ['-A', 'FORWARD', '-o', wanDev, '-p', 'udp', '-m', 'u32', '--u32', NEBULA_MESSAGE_U32, '-j', 'MNTDATA']);
    const router: NatRouter = { name, ns, kind, wanDev, publicIp, lanNet: `10.${this.net}.${i}`, watched: new Set() };
    this.routers.set(name, router);
    this.say(`created ${kind === 'symmetric' ? 'symmetric (--random-fully)' : 'cone'} NAT router "${name}" in ${ns}: public ${publicIp} on ${wanDev}, LAN ${router.lanNet}.0/24`);
    return router;
  }

  /**
   * Adds a node: on the internet (public address) when `behind` is undefined, else as the one host
   * on that router's LAN (default route via the router).
   */
  async addNode(name: string, options: { impl: Impl; role?: NodeRole; behind?: string; listenPort?: number; extra?: Record<string, unknown> }): Promise<NatNode> {
    const role = options.role ?? 'host';
    const ns = await this.hostNamespace(name, 6);
    let dev: string;
    let underlayIp: string;
    let router: NatRouter | undefined;
    if (options.behind === undefined) {
      if (role === 'host') throw new Error(`host ${name} must sit behind a router`);
      dev = await this.plug(ns);
      underlayIp = `198.18.${this.net}.${10 + ++this.publicCount}`;
      await this.lab.address(ns, dev, `${underlayIp}/24`);
    } else {
      router = this.router(options.behind);
      if ([...this.hosts.values()].some((n) => n.router === router)) throw new Error(`router ${router.name} already has a host`);
      const link = await this.lab.veth(ns, router.ns);
      dev = link.a;
      underlayIp = `${router.lanNet}.2`;
      await this.lab.address(router.ns, link.b, `${router.lanNet}.1/24`);
      await this.lab.address(ns, dev, `${underlayIp}/24`);
      await this.lab.ip(ns, 'route', 'add', 'default', 'via', `${router.lanNet}.1`);
    }
    const node: NatNode = {
      name,
      ns,
      impl: options.impl,
      role,
      router,
      dev,
      underlayIp,
      vpnIp: `100.64.${this.net}.${this.hosts.size + 1}`,
      listenPort: options.listenPort ?? 4242,
      ...this.nodeFiles(name),
      ...(options.extra ? { extra: options.extra } : {}),
    };
    this.hosts.set(name, node);
    this.say(`added ${options.impl} ${role} "${name}" in ${ns}: underlay ${underlayIp}${router ? ` behind router ${router.name} (${router.publicIp})` : ' (public)'}, overlay ${node.vpnIp}`);
    return node;
  }

  /** The address other nodes see this node at: its router's public address, or its own. */
  publicIp(name: string): string {
    const node = this.host(name);
    return node.router?.publicIp ?? node.underlayIp;
  }

  /**
   * The node's Nebula 1.6 config: every lighthouse and relay of the lab in static_host_map (public
   * address), lighthouse.hosts = the lighthouses, relay.relays = the relays (for hosts), punchy on,
   * and short timers so that punching, relays and dead-tunnel detection take seconds.
   */
  configFor(node: NatNode): Record<string, unknown> {
    const lighthouses = [...this.hosts.values()].filter((n) => n.role === 'lighthouse');
    const relays = [...this.hosts.values()].filter((n) => n.role === 'relay');
    const staticHostMap: Record<string, string[]> = {};
    for (const n of [...lighthouses, ...relays]) if (n !== node) staticHostMap[n.vpnIp] = [`${n.underlayIp}:${n.listenPort}`];
    const config = this.nodeConfig(node, {
      listen: { host: '0.0.0.0', port: node.listenPort },
      staticHostMap,
      lighthouses: node.role === 'lighthouse' ? [] : lighthouses.map((n) => n.vpnIp),
      amLighthouse: node.role === 'lighthouse',
      tun: { dev: node.tunDev, mtu: 1300 },
      punchy: { punch: true, respond: true, delay: FAST.punchDelay },
      relay:
        node.role === 'relay'
          ? { am_relay: true, use_relays: false }
          : { am_relay: false, relays: node.role === 'host' ? relays.map((n) => n.vpnIp) : [], use_relays: true },
      inbound: ALLOW_ALL,
      outbound: ALLOW_ALL,
      logLevel: 'info',
      extra: {
        handshakes: { try_interval: FAST.handshakeTryInterval, retries: FAST.handshakeRetries },
        timers: { connection_alive_interval: FAST.connectionAliveInterval, pending_deletion_interval: FAST.pendingDeletionInterval },
      },
    });
    (config.lighthouse as Record<string, unknown>).interval = FAST.lighthouseInterval;
    return { ...config, ...node.extra };
  }

  /** Writes certificate and config, starts the node in its namespace and waits until it runs. */
  async start(name: string, timeoutMs = 15_000): Promise<NatNode> {
    const node = this.host(name);
    await this.certify(node);
    this.writeConfig(node, this.configFor(node));
    const sub = node.impl === 'mesh' && node.role === 'lighthouse' && (await meshHasLighthouseCommand()) ? 'lighthouse' : 'node';
    const proc = await this.launch(node, nodeCommand(node.impl, node.configPath, sub), () => this.listening(node), { timeoutMs });
    this.say(`started ${node.impl} ${node.role} "${name}" (pid ${proc.pid}, TUN ${node.tunDev}, log ${node.logPath})`);
    return node;
  }

  protected override describe(node: NatNode): string {
    return `${node.impl} ${node.role} ${node.name} (overlay ${node.vpnIp}, underlay ${node.underlayIp})`;
  }

  /**
   * Whether the node is ready: its UDP port is bound and its TUN device exists. Judged from the
   * namespace rather than from log lines, so that it holds for every implementation and command.
   */
  private async listening(node: NatNode): Promise<boolean> {
    const udp = await this.lab.exec(node.ns, 'ss', ['-H', '-u', '-l', '-n', 'sport', '=', `:${node.listenPort}`]);
    if (udp.code !== 0 || udp.stdout.trim() === '') return false;
    return this.lab.linkExists(node.ns, node.tunDev);
  }

  /** Starts several nodes in order. */
  async startAll(...names: string[]): Promise<void> {
    for (const name of names) await this.start(name);
  }

  /**
   * Gives the router a new public address, as when an ISP reassigns it. Removing the old address
   * makes the kernel forget every mapping masqueraded to it, so the host behind it reappears from a
   * new public address and its peers' routers treat its packets as unsolicited until they punch.
   */
  async readdress(routerName: string): Promise<string> {
    const router = this.router(routerName);
    const next = `198.18.${this.net}.${150 + ++this.readdressCount}`;
    if (this.readdressCount > 99) throw new Error('too many readdress() calls');
    // Delete first: deleting a primary address would also delete a secondary added before it.
    await this.lab.ip(router.ns, 'addr', 'del', `${router.publicIp}/24`, 'dev', router.wanDev);
    await this.lab.ip(router.ns, 'addr', 'add', `${next}/24`, 'dev', router.wanDev);
    this.say(`router ${router.name} changed its public address from ${router.publicIp} to ${next}`);
    router.publicIp = next;
    for (const other of this.routers.values()) if (other !== router && other.watched.size > 0) await this.watch(other.name, next);
    return next;
  }

  /** The router's NAT table (conntrack entries for UDP), for diagnostics. */
  async conntrack(router: string): Promise<string> {
    const r = await this.lab.exec(this.router(router).ns, 'cat', ['/proc/net/nf_conntrack']);
    return r.stdout
      .split('\n')
      .filter((l) => / udp /.test(l))
      .join('\n');
  }

  /** Starts counting the data-sized UDP packets the router forwards out of its WAN to `dstIp`. */
  async watch(router: string, dstIp: string): Promise<void> {
    const r = this.router(router);
    if (r.watched.has(dstIp)) return;
    for (const chain of ['MNTCOUNT', 'MNTDATA']) await this.lab.execOk(r.ns, 'iptables', ['-A', chain, '-d', dstIp, '-j', 'RETURN']);
    r.watched.add(dstIp);
  }

  /** Makes every router count what it forwards to every other public address of the lab. */
  async watchAll(): Promise<void> {
    const publicIps = [...this.routers.values()].map((r) => r.publicIp);
    for (const n of this.hosts.values()) if (!n.router) publicIps.push(n.underlayIp);
    for (const r of this.routers.values()) for (const ip of publicIps) if (ip !== r.publicIp) await this.watch(r.name, ip);
  }

  /**
   * UDP packets the router has forwarded out of its WAN to each watched destination: data-sized
   * ones of any kind (handshakes included), or with `messagesOnly` Nebula message packets only.
   */
  async forwarded(router: string, messagesOnly = false): Promise<Map<string, number>> {
    const out = await this.lab.execOk(this.router(router).ns, 'iptables', ['-n', '-v', '-x', '-L', messagesOnly ? 'MNTDATA' : 'MNTCOUNT']);
    const counts = new Map<string, number>();
    for (const line of out.split('\n')) {
      // pkts bytes target prot opt in out source destination
      const f = line.trim().split(/\s+/);
      if (f[2] === 'RETURN' && f.length >= 9) counts.set(f[8]!, (counts.get(f[8]!) ?? 0) + Number(f[0]));
    }
    return counts;
  }

  /**
   * Pings `count` times (every 200 ms) from one node to another's overlay address while counting,
   * on the pinger's router, where the data packets went. Returns replies received and, per watched
   * destination, how many data packets the router forwarded there during the pings.
   */
  async tracePings(from: string, to: string, count = 10): Promise<{ replies: number; sentTo: Map<string, number>; output: string }> {
    const router = this.host(from).router;
    if (!router) throw new Error(`${from} is not behind a router`);
    // Messages only: a concurrent handshake (a relayed tunnel trying a direct path) is not data.
    const before = await this.forwarded(router.name, true);
    const r = await this.lab.exec(this.host(from).ns, 'ping', ['-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', this.host(to).vpnIp], { timeoutMs: count * 1000 + 5000 });
    const after = await this.forwarded(router.name, true);
    const sentTo = new Map<string, number>();
    for (const [ip, n] of after) sentTo.set(ip, n - (before.get(ip) ?? 0));
    const replies = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
    this.say(`${count} pings ${from} -> ${to}: ${replies} replies; router ${router.name} forwarded data packets ${[...sentTo].map(([ip, n]) => `${n} to ${ip}`).join(', ')}`);
    return { replies, sentTo, output: r.stdout };
  }

  /** Log tails of every started node plus the routers' UDP conntrack tables, for failure reports. */
  override async diagnostics(lines = 30): Promise<string> {
    const parts = [this.allLogTails(lines)];
    for (const r of this.routers.values()) parts.push(`--- router ${r.name} (${r.publicIp}) UDP conntrack:\n${await this.conntrack(r.name).catch((e: unknown) => String(e))}`);
    return parts.join('\n');
  }
}

/** Runs `fn` with a fresh lab; on failure prints node logs and NAT tables, then rethrows. Cleans up either way. */
export function withNatLab<T>(t: CleanupHost, options: NatLabOptions, fn: (lab: NatLab) => Promise<T>): Promise<T> {
  return withLab(NatLab.create(t, options), fn);
}
