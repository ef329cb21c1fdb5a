/**
 * A split underlay for relay tests (root only), built on NetnsLab with namespaces "mrl<id>…":
 * two bridges in one switch namespace, side "a" (172.31.61.0/24) and side "b" (172.31.62.0/24).
 * A host joins one side or both; a host on both sides never forwards IP (ip_forward=0), and no
 * host has a route to the other side's network, so a host on side a can only reach a host on
 * side b through the overlay, via a node on both sides. Overlay addresses are 172.31.190.<n>/24.
 *
 * Nodes are `mesh node` or `nebula` processes started by PID in their namespace; cleanup kills
 * only those PIDs and deletes only this lab's namespaces and temp directory.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryNetwork } from '../../src/io/memory.js';
import { parseIp } from '../../src/net/ipv4.js';
import { MessageType } from '../../src/protocol/header.js';
import { emptyMetaDetails, encodeMeta, MetaType } from '../../src/protocol/messages.js';
import { nebulaConfigYaml } from '../../src/lab/configs.js';
import { startMemoryNode } from './memory-mesh.js';
import { NetnsLab, runOk, type CleanupHost, type ExecResult } from '../../src/lab/netns.js';
import { MESH_BIN, sleep, type Impl } from '../../src/lab/overlay.js';
import { icmpEcho } from './packets.js';
import { makeCA, makeHost } from '../../src/lab/pki.js';

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

export interface RelayLabHost extends RelayLabHostOptions {
  name: string;
  ns: string;
  vpnIp: string;
  underlay: Partial<Record<Side, string>>;
  tunDev: string;
  certPath: string;
  keyPath: string;
  configPath: string;
  logPath: string;
  exited: boolean;
}

const SIDE_NET: Record<Side, number> = { a: 61, b: 62 };

export class RelayLab {
  readonly lab: NetnsLab;
  readonly dir: string;
  readonly hosts = new Map<string, RelayLabHost>();
  private switchNs?: string;
  private readonly bridges: Partial<Record<Side, string>> = {};
  private caReady = false;

  private constructor(t: CleanupHost) {
    this.lab = NetnsLab.create(undefined, 'mrl');
    this.dir = mkdtempSync(join(tmpdir(), `mesh-relay-${this.lab.id}-`));
    t.after(() => this.cleanup());
  }

  static create(t: CleanupHost): RelayLab {
    return new RelayLab(t);
  }

  host(name: string): RelayLabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  async addHost(name: string, options: RelayLabHostOptions): Promise<RelayLabHost> {
    if (!this.switchNs) {
      this.switchNs = await this.lab.namespace('sw');
      for (const side of ['a', 'b'] as const) this.bridges[side] = await this.lab.bridge(this.switchNs);
    }
    const n = this.hosts.size + 1;
    const ns = await this.lab.namespace(name);
    await this.lab.execOk(ns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0']);
    const underlay: Partial<Record<Side, string>> = {};
    for (const side of options.sides) {
      const link = await this.lab.veth(ns, this.switchNs);
      await this.lab.attach(this.switchNs, this.bridges[side]!, link.b);
      underlay[side] = `172.31.${SIDE_NET[side]}.${n}`;
      await this.lab.address(ns, link.a, `${underlay[side]}/24`);
    }
    const host: RelayLabHost = {
      ...options,
      name,
      ns,
      vpnIp: `172.31.190.${n}`,
      underlay,
      tunDev: this.lab.ifName('t'),
      certPath: join(this.dir, `${name}.crt`),
      keyPath: join(this.dir, `${name}.key`),
      configPath: join(this.dir, `${name}.yml`),
      logPath: join(this.dir, `${name}.log`),
      exited: false,
    };
    this.hosts.set(name, host);
    return host;
  }

  private async certify(host: RelayLabHost): Promise<void> {
    const caCrt = join(this.dir, 'ca.crt');
    const caKey = join(this.dir, 'ca.key');
    if (!this.caReady) {
      await runOk('nebula-cert', ['ca', '-name', `relay lab ${this.lab.id}`, '-duration', '24h', '-out-crt', caCrt, '-out-key', caKey]);
      this.caReady = true;
    }
    if (!existsSync(host.certPath)) {
      await runOk('nebula-cert', ['sign', '-ca-crt', caCrt, '-ca-key', caKey, '-name', host.name, '-ip', `${host.vpnIp}/24`, '-out-crt', host.certPath, '-out-key', host.keyPath]);
    }
  }

  /** The addresses of `other` that `host` can reach (the sides they share). */
  private reachable(host: RelayLabHost, other: RelayLabHost): string[] {
    return other.sides.filter((s) => host.sides.includes(s)).map((s) => `${other.underlay[s]}:4242`);
  }

  private writeConfig(host: RelayLabHost): void {
    const staticHostMap: Record<string, string[]> = {};
    for (const name of [...(host.knows ?? []), ...(host.lighthouses ?? [])]) {
      const other = this.host(name);
      staticHostMap[other.vpnIp] = this.reachable(host, other);
    }
    const relay: { am_relay?: boolean; relays?: string[] } = {};
    if (host.amRelay) relay.am_relay = true;
    if (host.relays) relay.relays = host.relays.map((n) => this.host(n).vpnIp);
    writeFileSync(
      host.configPath,
      nebulaConfigYaml({
        ca: join(this.dir, 'ca.crt'),
        cert: host.certPath,
        key: host.keyPath,
        listen: { host: '0.0.0.0', port: 4242 },
        staticHostMap,
        amLighthouse: host.amLighthouse ?? false,
        lighthouses: (host.lighthouses ?? []).map((n) => this.host(n).vpnIp),
        relay,
        tun: { disabled: host.tunDisabled ?? false, dev: host.tunDev, mtu: 1300 },
        logLevel: 'debug',
        extra: { handshakes: { try_interval: '100ms', retries: 20 } },
      }),
    );
  }

  async start(name: string, timeoutMs = 15_000): Promise<void> {
    const host = this.host(name);
    await this.certify(host);
    this.writeConfig(host);
    const fd = openSync(host.logPath, 'a');
    const [cmd, args] = host.impl === 'mesh' ? [process.execPath, [MESH_BIN, 'node', '--config', host.configPath]] : ['nebula', ['-config', host.configPath]];
    try {
      const proc = this.lab.spawn(host.ns, cmd, args, { stdio: ['ignore', fd, fd] });
      proc.once('exit', () => (host.exited = true));
    } finally {
      closeSync(fd);
    }
    const ready = host.impl === 'mesh' ? /mesh node started/ : /Nebula interface is active/;
    const deadline = Date.now() + timeoutMs;
    while (!ready.test(this.log(name))) {
      if (host.exited) throw new Error(`${host.impl} ${name} exited during start:\n${this.logTail(name)}`);
      if (Date.now() > deadline) throw new Error(`${host.impl} ${name} did not start:\n${this.logTail(name)}`);
      await sleep(50);
    }
  }

  ping(from: string, to: string): Promise<ExecResult> {
    return this.lab.exec(this.host(from).ns, 'ping', ['-n', '-c', '1', '-W', '1', this.host(to).vpnIp], { timeoutMs: 7000 });
  }

  async waitForPing(from: string, to: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.ping(from, to)).code === 0) return;
      await sleep(200);
    }
    throw new Error(`no ping reply ${from} -> ${to} within ${timeoutMs} ms\n${this.allLogTails()}`);
  }

  /** Whether `from` can reach `to`'s address on `side` outside the overlay (it must not, across sides). */
  async underlayReachable(from: string, to: string, side: Side): Promise<boolean> {
    const r = await this.lab.exec(this.host(from).ns, 'ping', ['-n', '-c', '1', '-W', '1', this.host(to).underlay[side]!], { timeoutMs: 5000 });
    return r.code === 0;
  }

  log(name: string): string {
    const path = this.host(name).logPath;
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  logTail(name: string, lines = 40): string {
    return this.log(name).trimEnd().split('\n').slice(-lines).join('\n');
  }

  allLogTails(lines = 30): string {
    return [...this.hosts.values()].map((h) => `--- ${h.impl} ${h.name}:\n${this.logTail(h.name, lines)}`).join('\n');
  }

  async cleanup(): Promise<void> {
    await this.lab.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
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
    await a.node.stop();
    await l.node.stop();
  }
}
