/**
 * Overlay-network lab (root-only tests and the demo), a Lab (see lab.ts).
 *
 * Layout: one "switch" namespace holding a bridge and one namespace per host joined to it by a veth
 * pair. Underlay addresses are 172.31.<net>.<10+i>/24, overlay (VPN) addresses
 * 172.31.<net+128>.<1+i>/24. Certificates are made with `mesh ca` or `nebula-cert`; nodes are
 * `mesh node --config` or `nebula -config`, each with its own TUN device (unique name per lab).
 * On top of the shared lab: TCP transfers checked with SHA-256 (tcp-tool.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { nodeCommand, READY, type Impl } from './binaries.js';
import type { SignOptions } from './certs.js';
import { ALLOW_ALL, type FirewallRule } from './configs.js';
import { checkNet, Lab, withLab, type LabNode } from './lab.js';
import type { CleanupHost } from './netns.js';
import { within } from './wait.js';

/** The TCP tool, next to this file in dist/. */
export const TCP_TOOL = fileURLToPath(new URL('./tcp-tool.js', import.meta.url));

export type Cipher = 'aes' | 'chachapoly';

export interface HostOptions {
  impl?: Impl;
  groups?: string[];
  inbound?: FirewallRule[];
  outbound?: FirewallRule[];
  logLevel?: string;
  listenPort?: number;
  /** Run as a lighthouse (`lighthouse.am_lighthouse`). */
  amLighthouse?: boolean;
  /** Names of this host's lighthouses: its static_host_map then holds only them (and its relays), as in a real deployment. */
  lighthouses?: string[];
  amRelay?: boolean;
  /** Names of the hosts that may relay to this one (relay.relays). */
  relays?: string[];
  tunDisabled?: boolean;
  /** Comma separated CIDRs signed into the certificate's subnets (what the host routes for as an unsafe_routes `via`). */
  subnets?: string;
  /** More top-level config keys (stats, timers, pki additions...), merged last. */
  extra?: Record<string, unknown>;
}

export interface OverlayHost extends LabNode {
  impl: Impl;
  vpnIp6?: string;
  underlayIp: string;
  listenPort: number;
  groups: string[];
  inbound: FirewallRule[];
  outbound: FirewallRule[];
  logLevel: string;
  amLighthouse: boolean;
  lighthouses?: string[];
  amRelay: boolean;
  relays: string[];
  tunDisabled: boolean;
  subnets?: string;
  extra: Record<string, unknown>;
}

export interface OverlayLabOptions {
  /** Third octet of the underlay network (overlay uses net+128). Default 1. */
  net?: number;
  /** Who makes the certificates. Default 'mesh' (`mesh ca init/sign`). */
  pki?: 'mesh' | 'nebula-cert';
  cipher?: Cipher;
  /** Called with a plain-words description of each step (the demo prints these; OVERLAY_VERBOSE=1 prints them to stderr by default). */
  say?: (message: string) => void;
  /** Starts every namespace name (default "mt"). */
  namePrefix?: string;
  /** The `mesh` executable mesh nodes run (an installed package's, say); default: this build's CLI under this node. */
  meshBin?: string;
  /** mesh hosts' kernel offloads, tun.offload and listen.offload (default: on, or off when MESH_LAB_OFFLOAD=0). */
  offload?: boolean;
  /** mesh hosts' tun.io_uring (default: on, or off when MESH_LAB_IO_URING=0). */
  ioUring?: boolean;
  /** Certificate format of the lab CA and its hosts (mesh pki only). Default 1. */
  certVersion?: 1 | 2;
  /** Each host also gets an IPv6 overlay address, fd31:<net>::<n>/64, in its (v2) certificate. */
  ipv6?: boolean;
}

export interface TcpResult {
  connected: boolean;
  error?: string;
  sent?: number;
  sentSha256?: string;
  received?: number;
  receivedSha256?: string;
  ms?: number;
  mbitPerSec?: number;
}

export class OverlayLab extends Lab<OverlayHost> {
  readonly net: number;
  cipher: Cipher;
  private readonly meshBin?: string;
  private readonly offload: boolean | undefined;
  private readonly ioUring: boolean | undefined;
  private readonly ipv6: boolean;

  private constructor(options: OverlayLabOptions) {
    const net = checkNet(options.net, 127);
    if (options.ipv6 && options.certVersion !== 2) throw new Error('IPv6 overlay addresses need certVersion 2');
    super({
      ...options,
      kind: 'overlay',
      namePrefix: options.namePrefix ?? 'mt',
      pki: options.pki ?? 'mesh',
      ...(options.certVersion ? { ca: { version: options.certVersion } } : {}),
      underlay: { description: `the underlay switch (172.31.${net}.0/24)` },
    });
    this.net = net;
    this.ipv6 = options.ipv6 ?? false;
    this.cipher = options.cipher ?? 'aes';
    this.meshBin = options.meshBin;
    this.offload = options.offload;
    this.ioUring = options.ioUring;
  }

  /** Creates a lab; with a test context, cleanup() runs when the test ends (pass or fail). */
  static create(t?: CleanupHost, options: OverlayLabOptions = {}): OverlayLab {
    return new OverlayLab(options).cleanupAfter(t);
  }

  /** Adds a host: its namespace, a veth to the underlay bridge, and its underlay address. */
  async addHost(name: string, options: HostOptions = {}): Promise<OverlayHost> {
    const ns = await this.hostNamespace(name, 8);
    const i = this.hosts.size;
    const dev = await this.plug(ns);
    const underlayIp = `172.31.${this.net}.${10 + i}`;
    await this.lab.address(ns, dev, `${underlayIp}/24`);
    const host: OverlayHost = {
      name,
      ns,
      impl: options.impl ?? 'mesh',
      underlayIp,
      vpnIp: `172.31.${this.net + 128}.${1 + i}`,
      ...(this.ipv6 ? { vpnIp6: `fd31:${this.net}::${(1 + i).toString(16)}` } : {}),
      listenPort: options.listenPort ?? 4242,
      groups: options.groups ?? [],
      inbound: options.inbound ?? ALLOW_ALL,
      outbound: options.outbound ?? ALLOW_ALL,
      logLevel: options.logLevel ?? 'info',
      amLighthouse: options.amLighthouse ?? false,
      lighthouses: options.lighthouses,
      amRelay: options.amRelay ?? false,
      relays: options.relays ?? [],
      tunDisabled: options.tunDisabled ?? false,
      subnets: options.subnets,
      extra: options.extra ?? {},
      ...this.nodeFiles(name),
    };
    this.hosts.set(name, host);
    this.say(`created namespace ${ns} for host "${name}": underlay ${underlayIp} on ${dev} (veth to the bridge), overlay ${host.vpnIp}${host.vpnIp6 ? ` and ${host.vpnIp6}` : ''}`);
    return host;
  }

  /**
   * The host's Nebula 1.6 config, its own TUN name: every other host in static_host_map, or only its
   * lighthouses and relays when it has lighthouses.
   */
  configFor(host: OverlayHost): Record<string, unknown> {
    const staticHostMap: Record<string, string[]> = {};
    const known = host.lighthouses ? [...host.lighthouses, ...host.relays].map((n) => this.host(n)) : [...this.hosts.values()];
    for (const other of known) if (other !== host) staticHostMap[other.vpnIp] = [`${other.underlayIp}:${other.listenPort}`];
    return this.nodeConfig(host, {
      listen: { host: '0.0.0.0', port: host.listenPort, offload: this.offload },
      staticHostMap,
      amLighthouse: host.amLighthouse,
      lighthouses: (host.lighthouses ?? []).map((n) => this.host(n).vpnIp),
      relay: { am_relay: host.amRelay, relays: host.relays.map((n) => this.host(n).vpnIp) },
      cipher: this.cipher,
      tun: { disabled: host.tunDisabled, dev: host.tunDev, mtu: 1300, offload: this.offload, ioUring: this.ioUring },
      inbound: host.inbound,
      outbound: host.outbound,
      logLevel: host.logLevel,
      extra: host.extra,
    });
  }

  /** Rewrites a host's config with `extra` merged over its top-level keys (then SIGHUP or `mesh reload` applies it). */
  reconfigure(name: string, extra: Record<string, unknown>): void {
    const host = this.host(name);
    host.extra = { ...host.extra, ...extra };
    this.writeConfig(host, this.configFor(host));
  }

  /**
   * Starts the host's node in its namespace (certificate and config written first), logging to
   * its log file, and waits until it reports that it is running. `env` replaces the environment.
   */
  async start(name: string, timeoutMs = 15_000, env?: NodeJS.ProcessEnv): Promise<OverlayHost> {
    const host = this.host(name);
    await this.certify(host);
    this.writeConfig(host, this.configFor(host));
    const command: [string, string[]] = host.impl === 'mesh' && this.meshBin ? [this.meshBin, ['node', '--config', host.configPath]] : nodeCommand(host.impl, host.configPath);
    const proc = await this.launch(host, command, READY[host.impl], { timeoutMs, env });
    this.say(`started ${host.impl === 'mesh' ? 'mesh node' : 'nebula'} "${name}" in ${host.ns} (pid ${proc.pid}, TUN ${host.tunDev}, cipher ${this.cipher}, log ${host.logPath})`);
    return host;
  }

  protected override certRequest(host: OverlayHost): { ipCidr: string; options: SignOptions } {
    const networks = host.vpnIp6 ? { networks: `${host.vpnIp}/24,${host.vpnIp6}/64` } : {};
    return { ipCidr: `${host.vpnIp}/24`, options: { groups: host.groups, ...networks, ...(host.subnets ? { subnets: host.subnets } : {}) } };
  }

  protected override describe(host: OverlayHost): string {
    return `${host.impl} ${host.name}`;
  }

  /** The host's overlay address of `family`. */
  overlayAddress(name: string, family: 4 | 6 = 4): string {
    const host = this.host(name);
    if (family === 4) return host.vpnIp;
    if (!host.vpnIp6) throw new Error(`host ${name} has no IPv6 overlay address`);
    return host.vpnIp6;
  }

  /** Starts the TCP checksum server (tcp-tool serve) on the host's overlay address (of `family`). */
  async tcpServe(name: string, ports: number[], family: 4 | 6 = 4): Promise<ChildProcess> {
    const host = this.host(name);
    const proc = this.lab.spawn(host.ns, process.execPath, [TCP_TOOL, 'serve', this.overlayAddress(name, family), ports.join(',')]);
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const lines = createInterface({ input: proc.stdout! });
    await within(
      Promise.race([
        once(lines, 'line'),
        once(proc, 'exit').then(() => {
          throw new Error(`tcp server on ${name} exited: ${err}`);
        }),
      ]),
      10_000,
      `tcp server on ${name} starting`,
    ).catch((e: unknown) => {
      proc.kill('SIGKILL');
      throw e;
    });
    return proc;
  }

  /** Sends `bytes` pseudo-random bytes over TCP from `from` to `to`'s overlay address; returns both checksums. */
  async tcpSend(from: string, to: string, port: number, bytes: number, connectTimeoutMs = 5000, totalTimeoutMs = 120_000, family: 4 | 6 = 4): Promise<TcpResult> {
    const out = await this.lab.execOk(this.host(from).ns, process.execPath, [TCP_TOOL, 'send', this.overlayAddress(to, family), String(port), String(bytes), String(connectTimeoutMs)], {
      timeoutMs: totalTimeoutMs,
    });
    const result = JSON.parse(out.trim()) as TcpResult;
    if (result.connected && result.sent !== undefined) {
      this.say(
        `TCP ${from} -> ${to}:${port}: sent ${fmtBytes(result.sent)} in ${result.ms} ms (${result.mbitPerSec} Mbit/s), ` +
          `receiver got ${fmtBytes(result.received ?? 0)}, sha256 ${result.sentSha256 === result.receivedSha256 ? 'matches' : 'DIFFERS'}`,
      );
    } else {
      this.say(`TCP ${from} -> ${to}:${port}: no connection (${result.error})`);
    }
    return result;
  }
}

/** Runs `fn` with a fresh overlay lab; on failure prints every node's log tail; cleans up either way. */
export function withOverlayLab<T>(t: CleanupHost, options: OverlayLabOptions, fn: (lab: OverlayLab) => Promise<T>): Promise<T> {
  return withLab(OverlayLab.create(t, options), fn);
}

function fmtBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${n} bytes`;
}
