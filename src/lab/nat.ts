/**
 * NAT lab for root-only NAT-traversal tests, built on NetnsLab.
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
 * cleanup() runs when the test ends (pass or fail) and on process exit: it kills only our PIDs,
 * deletes only our namespaces (with their veths, bridge and TUN devices) and the temp directory.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { nebulaConfig, ALLOW_ALL } from './configs.js';
import { NetnsLab, run, runOk, type ExecResult } from './netns.js';
import { MESH_BIN, sleep, type Impl } from './overlay.js';

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

export interface NatNode {
  name: string;
  ns: string;
  impl: Impl;
  role: NodeRole;
  /** The router this node sits behind, or undefined for a node on the internet. */
  router?: NatRouter;
  dev: string;
  /** The node's own underlay address (LAN address behind a router, public address otherwise). */
  underlayIp: string;
  vpnIp: string;
  tunDev: string;
  listenPort: number;
  certPath: string;
  keyPath: string;
  configPath: string;
  logPath: string;
  /** Top-level config sections merged over the lab's (e.g. mesh's `stun`). */
  extra?: Record<string, unknown>;
  proc?: ChildProcess;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
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

export class NatLab {
  readonly lab: NetnsLab;
  readonly dir: string;
  readonly net: number;
  readonly routers = new Map<string, NatRouter>();
  readonly nodes = new Map<string, NatNode>();
  private readonly say: (message: string) => void;
  private internetNs?: string;
  private bridgeDev?: string;
  private publicCount = 0;
  private readdressCount = 0;
  private caReady = false;
  private cleaned = false;
  private readonly exitHandler = (): void => {
    if (!this.cleaned) rmSync(this.dir, { recursive: true, force: true });
  };

  private constructor(lab: NetnsLab, options: NatLabOptions) {
    this.lab = lab;
    this.net = options.net ?? 1;
    if (this.net < 1 || this.net > 250) throw new Error('net must be 1..250');
    const t0 = Date.now();
    this.say = options.say ?? (process.env.NAT_VERBOSE ? (m) => process.stderr.write(`[nat ${lab.id} +${Date.now() - t0} ms] ${m}\n`) : () => {});
    this.dir = mkdtempSync(join(tmpdir(), `mesh-nat-${lab.id}-`));
    process.once('exit', this.exitHandler);
  }

  /** Creates a lab; with a test context, cleanup() runs when the test ends (pass or fail). */
  static create(t?: { after(fn: () => unknown): void }, options: NatLabOptions = {}): NatLab {
    const lab = NetnsLab.create(undefined, options.namePrefix ?? 'mnt');
    const nat = new NatLab(lab, options);
    t?.after(() => nat.cleanup());
    return nat;
  }

  node(name: string): NatNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  router(name: string): NatRouter {
    const r = this.routers.get(name);
    if (!r) throw new Error(`no router ${name}`);
    return r;
  }

  private async internet(): Promise<{ ns: string; bridge: string }> {
    if (!this.internetNs) {
      this.internetNs = await this.lab.namespace('inet');
      this.bridgeDev = await this.lab.bridge(this.internetNs);
      this.say(`created the "internet": namespace ${this.internetNs} with bridge ${this.bridgeDev} (198.18.${this.net}.0/24)`);
    }
    return { ns: this.internetNs, bridge: this.bridgeDev! };
  }

  /** Plugs a new veth into the internet bridge; returns the device name on `ns`'s side. */
  private async plugIntoInternet(ns: string): Promise<string> {
    const inet = await this.internet();
    const link = await this.lab.veth(ns, inet.ns);
    await this.lab.attach(inet.ns, inet.bridge, link.b);
    return link.a;
  }

  /** Adds a home router with a public WAN address and a LAN for one host behind it. */
  async addRouter(name: string, kind: NatKind = 'cone'): Promise<NatRouter> {
    checkName(name, this.routers);
    const i = this.routers.size + 1;
    const ns = await this.lab.namespace(`r${name}`);
    const wanDev = await this.plugIntoInternet(ns);
    const publicIp = `198.18.${this.net}.${100 + i}`;
    await this.lab.address(ns, wanDev, `${publicIp}/24`);
    await this.lab.execOk(ns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
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
    checkName(name, this.nodes);
    const role = options.role ?? 'host';
    const ns = await this.lab.namespace(name);
    let dev: string;
    let underlayIp: string;
    let router: NatRouter | undefined;
    if (options.behind === undefined) {
      if (role === 'host') throw new Error(`host ${name} must sit behind a router`);
      dev = await this.plugIntoInternet(ns);
      underlayIp = `198.18.${this.net}.${10 + ++this.publicCount}`;
      await this.lab.address(ns, dev, `${underlayIp}/24`);
    } else {
      router = this.router(options.behind);
      if ([...this.nodes.values()].some((n) => n.router === router)) throw new Error(`router ${router.name} already has a host`);
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
      vpnIp: `100.64.${this.net}.${this.nodes.size + 1}`,
      tunDev: this.lab.ifName('t'),
      listenPort: options.listenPort ?? 4242,
      certPath: join(this.dir, `${name}.crt`),
      keyPath: join(this.dir, `${name}.key`),
      configPath: join(this.dir, `${name}.yml`),
      logPath: join(this.dir, `${name}.log`),
      ...(options.extra ? { extra: options.extra } : {}),
    };
    this.nodes.set(name, node);
    this.say(`added ${options.impl} ${role} "${name}" in ${ns}: underlay ${underlayIp}${router ? ` behind router ${router.name} (${router.publicIp})` : ' (public)'}, overlay ${node.vpnIp}`);
    return node;
  }

  /** The address other nodes see this node at: its router's public address, or its own. */
  publicIp(name: string): string {
    const node = this.node(name);
    return node.router?.publicIp ?? node.underlayIp;
  }

  private get caCert(): string {
    return join(this.dir, 'ca.crt');
  }

  private async certify(node: NatNode): Promise<void> {
    if (existsSync(node.certPath)) return;
    const caKey = join(this.dir, 'ca.key');
    if (!this.caReady) {
      await runOk('nebula-cert', ['ca', '-name', `nat lab ${this.lab.id}`, '-duration', '24h', '-out-crt', this.caCert, '-out-key', caKey]);
      this.caReady = true;
    }
    await runOk('nebula-cert', ['sign', '-ca-crt', this.caCert, '-ca-key', caKey, '-name', node.name, '-ip', `${node.vpnIp}/24`, '-out-crt', node.certPath, '-out-key', node.keyPath]);
  }

  /**
   * The node's Nebula 1.6 config: every lighthouse and relay of the lab in static_host_map (public
   * address), lighthouse.hosts = the lighthouses, relay.relays = the relays (for hosts), punchy on,
   * and short timers so that punching, relays and dead-tunnel detection take seconds.
   */
  configFor(node: NatNode): Record<string, unknown> {
    const lighthouses = [...this.nodes.values()].filter((n) => n.role === 'lighthouse');
    const relays = [...this.nodes.values()].filter((n) => n.role === 'relay');
    const staticHostMap: Record<string, string[]> = {};
    for (const n of [...lighthouses, ...relays]) if (n !== node) staticHostMap[n.vpnIp] = [`${n.underlayIp}:${n.listenPort}`];
    const config = nebulaConfig({
      ca: this.caCert,
      cert: node.certPath,
      key: node.keyPath,
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
    const node = this.node(name);
    if (node.proc && !exitOf(node)) throw new Error(`${name} is already running`);
    await this.certify(node);
    writeFileSync(node.configPath, stringify(this.configFor(node)));
    let cmd: string;
    let args: string[];
    if (node.impl === 'nebula') {
      [cmd, args] = ['nebula', ['-config', node.configPath]];
    } else {
      const sub = node.role === 'lighthouse' && (await meshHasLighthouseCommand()) ? 'lighthouse' : 'node';
      [cmd, args] = [process.execPath, [MESH_BIN, sub, '--config', node.configPath]];
    }
    const fd = openSync(node.logPath, 'a');
    try {
      node.proc = this.lab.spawn(node.ns, cmd, args, { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    node.exit = undefined;
    const proc = node.proc;
    proc.once('exit', (code, signal) => (node.exit = { code, signal }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.listening(node)) break;
      const exit = exitOf(node);
      if (exit) throw new Error(`${node.impl} ${name} exited during start (${exit.code ?? exit.signal}):\n${this.logTail(name)}`);
      if (Date.now() > deadline) throw new Error(`${node.impl} ${name} did not start within ${timeoutMs} ms:\n${this.logTail(name)}`);
      await sleep(50);
    }
    this.say(`started ${node.impl} ${node.role} "${name}" (pid ${proc.pid}, TUN ${node.tunDev}, log ${node.logPath})`);
    return node;
  }

  /**
   * Whether the node is ready: its UDP port is bound and its TUN device exists. Judged from the
   * namespace rather than from log lines, so that it holds for every implementation and command.
   */
  private async listening(node: NatNode): Promise<boolean> {
    const udp = await this.lab.exec(node.ns, 'ss', ['-H', '-u', '-l', '-n', 'sport', '=', `:${node.listenPort}`]);
    if (udp.code !== 0 || udp.stdout.trim() === '') return false;
    return (await run('ip', ['-n', node.ns, 'link', 'show', 'dev', node.tunDev])).code === 0;
  }

  /** Starts several nodes in order. */
  async startAll(...names: string[]): Promise<void> {
    for (const name of names) await this.start(name);
  }

  /** Stops the node by PID: SIGTERM (or SIGKILL to simulate a crash), SIGKILL after a grace period. */
  async stop(name: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', graceMs = 5000): Promise<void> {
    const node = this.node(name);
    const proc = node.proc;
    if (!proc) throw new Error(`${name} was never started`);
    if (exitOf(node)) return;
    const exited = once(proc, 'exit');
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    this.say(`stopped "${name}" with ${signal} (pid ${proc.pid})`);
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
    for (const n of this.nodes.values()) if (!n.router) publicIps.push(n.underlayIp);
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
    const router = this.node(from).router;
    if (!router) throw new Error(`${from} is not behind a router`);
    // Messages only: a concurrent handshake (a relayed tunnel trying a direct path) is not data.
    const before = await this.forwarded(router.name, true);
    const r = await this.lab.exec(this.node(from).ns, 'ping', ['-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', this.node(to).vpnIp], { timeoutMs: count * 1000 + 5000 });
    const after = await this.forwarded(router.name, true);
    const sentTo = new Map<string, number>();
    for (const [ip, n] of after) sentTo.set(ip, n - (before.get(ip) ?? 0));
    const replies = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
    this.say(`${count} pings ${from} -> ${to}: ${replies} replies; router ${router.name} forwarded data packets ${[...sentTo].map(([ip, n]) => `${n} to ${ip}`).join(', ')}`);
    return { replies, sentTo, output: r.stdout };
  }

  /** One ping over the overlay. */
  ping(from: string, to: string, waitSeconds = 1): Promise<ExecResult> {
    return this.lab.exec(this.node(from).ns, 'ping', ['-n', '-c', '1', '-W', String(waitSeconds), this.node(to).vpnIp], { timeoutMs: (waitSeconds + 5) * 1000 });
  }

  /** Pings until one answer arrives (the first packets also start the handshake); returns the ms it took. */
  async waitForPing(from: string, to: string, timeoutMs = 15_000): Promise<number> {
    const t0 = Date.now();
    let last: ExecResult | undefined;
    while (Date.now() - t0 < timeoutMs) {
      last = await this.ping(from, to);
      if (last.code === 0) {
        this.say(`ping ${from} -> ${to} (${this.node(to).vpnIp}): reply after ${Date.now() - t0} ms`);
        return Date.now() - t0;
      }
      await sleep(100);
    }
    throw new Error(`no ping reply ${from} -> ${to} within ${timeoutMs} ms: ${last?.stdout.trim()} ${last?.stderr.trim()}`);
  }

  log(name: string): string {
    const path = this.node(name).logPath;
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  logTail(name: string, lines = 40): string {
    return this.log(name).trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Log tails of every started node plus the routers' UDP conntrack tables, for failure reports. */
  async diagnostics(lines = 30): Promise<string> {
    const parts: string[] = [];
    for (const n of this.nodes.values()) if (n.proc) parts.push(`--- ${n.impl} ${n.role} ${n.name} (${n.ns}, pid ${n.proc.pid}, overlay ${n.vpnIp}, underlay ${n.underlayIp}):\n${this.logTail(n.name, lines)}`);
    for (const r of this.routers.values()) parts.push(`--- router ${r.name} (${r.publicIp}) UDP conntrack:\n${await this.conntrack(r.name).catch((e: unknown) => String(e))}`);
    return parts.join('\n');
  }

  /** Stops our processes (SIGTERM, then SIGKILL), deletes our namespaces and the temp directory. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    process.off('exit', this.exitHandler);
    await this.lab.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs `fn` with a fresh lab; on failure prints node logs and NAT tables, then rethrows. Cleans up either way. */
export async function withNatLab<T>(t: { after(fn: () => unknown): void }, options: NatLabOptions, fn: (lab: NatLab) => Promise<T>): Promise<T> {
  const lab = NatLab.create(t, options);
  try {
    return await fn(lab);
  } catch (err) {
    process.stderr.write(`\n=== NAT lab ${lab.lab.id} diagnostics ===\n${await lab.diagnostics()}\n=== end ===\n`);
    throw err;
  } finally {
    await lab.cleanup();
  }
}

function checkName(name: string, taken: Map<string, unknown>): void {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(name)) throw new Error(`name ${name}: 1-6 lowercase letters/digits`);
  if (taken.has(name)) throw new Error(`${name} exists`);
}

/** The node's exit status (a function so that TypeScript does not narrow it across awaits). */
function exitOf(node: NatNode): NatNode['exit'] {
  return node.exit;
}
