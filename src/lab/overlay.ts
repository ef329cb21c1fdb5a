/**
 * Overlay-network lab for root-only tests (and the demo), built on NetnsLab.
 *
 * Layout: one "switch" namespace holding a bridge (never a bridge in the root namespace) and one
 * namespace per host, each joined to the bridge by a veth pair. Underlay addresses are
 * 172.31.<net>.<10+i>/24, overlay (VPN) addresses 172.31.<net+128>.<1+i>/24. Certificates (made
 * with `mesh ca` or `nebula-cert`), configs and one log file per node live in a temp directory.
 * Nodes (`mesh node --config` or `nebula -config`) run inside their namespace with their own TUN
 * device (unique name per lab); we keep their PIDs and stop them by PID with SIGTERM.
 *
 * cleanup() (run when the test ends, also on failure, and on process exit as a last resort) kills
 * only the processes this lab started, deletes only its namespaces (which removes their veths,
 * bridge and TUN devices) and removes the temp directory. Never pkill/killall.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { nebulaConfigYaml, ALLOW_ALL, type FirewallRule } from './configs.js';
import { NetnsLab, netnsSkipReason, run, runOk, type ExecResult } from './netns.js';

/** The compiled mesh CLI and the TCP tool, next to this file in dist/. */
export const MESH_BIN = fileURLToPath(new URL('../cli/bin.js', import.meta.url));
export const TCP_TOOL = fileURLToPath(new URL('./tcp-tool.js', import.meta.url));

export type Impl = 'mesh' | 'nebula';
export type Cipher = 'aes' | 'chachapoly';

export interface HostOptions {
  impl?: Impl;
  groups?: string[];
  inbound?: FirewallRule[];
  outbound?: FirewallRule[];
  logLevel?: string;
  listenPort?: number;
}

export interface OverlayHost {
  name: string;
  ns: string;
  impl: Impl;
  underlayIp: string;
  vpnIp: string;
  tunDev: string;
  listenPort: number;
  groups: string[];
  inbound: FirewallRule[];
  outbound: FirewallRule[];
  logLevel: string;
  certPath: string;
  keyPath: string;
  configPath: string;
  logPath: string;
  /** The running node, if any (its PID is the node's PID: `ip netns exec` execs in place). */
  proc?: ChildProcess;
  /** Set when the running process exits. */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
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

/** Why an overlay test cannot run here (root/netns, native addon, binaries), or undefined. */
export async function overlaySkipReason(needs: { nebula?: boolean; nebulaCert?: boolean; meshTun?: boolean } = {}): Promise<string | undefined> {
  const netns = netnsSkipReason();
  if (netns) return netns;
  if (!existsSync(MESH_BIN)) return `mesh CLI not built (${MESH_BIN})`;
  if (needs.meshTun !== false) {
    const { nativeLoadError } = await import('../io/native.js');
    const err = nativeLoadError();
    if (err) return `native addon not available (needed for the mesh TUN device): ${err.message}`;
  }
  for (const [flag, bin] of [
    [needs.nebula, 'nebula'],
    [needs.nebulaCert, 'nebula-cert'],
  ] as const) {
    if (!flag) continue;
    const r = await run('sh', ['-c', `command -v ${bin}`]).catch(() => null);
    if (!r || r.code !== 0) return `\`${bin}\` is not installed`;
  }
  return undefined;
}

export class OverlayLab {
  readonly lab: NetnsLab;
  readonly dir: string;
  readonly net: number;
  cipher: Cipher;
  readonly hosts = new Map<string, OverlayHost>();
  private readonly pkiTool: 'mesh' | 'nebula-cert';
  private readonly say: (message: string) => void;
  private switchNs?: string;
  private bridgeDev?: string;
  private caReady = false;
  private cleaned = false;

  private constructor(lab: NetnsLab, options: OverlayLabOptions) {
    this.lab = lab;
    this.net = options.net ?? 1;
    if (this.net < 1 || this.net > 127) throw new Error('net must be 1..127');
    this.cipher = options.cipher ?? 'aes';
    this.pkiTool = options.pki ?? 'mesh';
    const t0 = Date.now();
    this.say = options.say ?? (process.env.OVERLAY_VERBOSE ? (m) => process.stderr.write(`[overlay ${lab.id} +${Date.now() - t0} ms] ${m}\n`) : () => {});
    this.dir = mkdtempSync(join(tmpdir(), `mesh-overlay-${lab.id}-`));
    // Last resort on process exit, after NetnsLab's own handler (which kills PIDs, deletes namespaces).
    process.once('exit', this.exitHandler);
  }

  private readonly exitHandler = (): void => {
    if (!this.cleaned) rmSync(this.dir, { recursive: true, force: true });
  };

  /** Creates a lab; with a test context, cleanup() runs when the test ends (pass or fail). */
  static create(t?: { after(fn: () => unknown): void }, options: OverlayLabOptions = {}): OverlayLab {
    const lab = NetnsLab.create(undefined, options.namePrefix);
    const overlay = new OverlayLab(lab, options);
    t?.after(() => overlay.cleanup());
    return overlay;
  }

  host(name: string): OverlayHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** Adds a host: its namespace, a veth to the underlay bridge, and its underlay address. */
  async addHost(name: string, options: HostOptions = {}): Promise<OverlayHost> {
    if (!/^[a-z][a-z0-9]{0,7}$/.test(name)) throw new Error(`host name ${name}: 1-8 lowercase letters/digits`);
    if (this.hosts.has(name)) throw new Error(`host ${name} exists`);
    if (!this.switchNs) {
      this.switchNs = await this.lab.namespace('sw');
      this.bridgeDev = await this.lab.bridge(this.switchNs);
      this.say(`created namespace ${this.switchNs} with bridge ${this.bridgeDev} as the underlay switch (172.31.${this.net}.0/24)`);
    }
    const i = this.hosts.size;
    const ns = await this.lab.namespace(name);
    const link = await this.lab.veth(ns, this.switchNs);
    await this.lab.attach(this.switchNs, this.bridgeDev!, link.b);
    const underlayIp = `172.31.${this.net}.${10 + i}`;
    await this.lab.address(ns, link.a, `${underlayIp}/24`);
    const host: OverlayHost = {
      name,
      ns,
      impl: options.impl ?? 'mesh',
      underlayIp,
      vpnIp: `172.31.${this.net + 128}.${1 + i}`,
      tunDev: this.lab.ifName('t'),
      listenPort: options.listenPort ?? 4242,
      groups: options.groups ?? [],
      inbound: options.inbound ?? ALLOW_ALL,
      outbound: options.outbound ?? ALLOW_ALL,
      logLevel: options.logLevel ?? 'info',
      certPath: join(this.dir, `${name}.crt`),
      keyPath: join(this.dir, `${name}.key`),
      configPath: join(this.dir, `${name}.yml`),
      logPath: join(this.dir, `${name}.log`),
    };
    this.hosts.set(name, host);
    this.say(`created namespace ${ns} for host "${name}": underlay ${underlayIp} on ${link.a} (veth to the bridge), overlay ${host.vpnIp}`);
    return host;
  }

  get caCert(): string {
    return join(this.dir, 'ca.crt');
  }

  private async ensureCA(): Promise<void> {
    if (this.caReady) return;
    const key = join(this.dir, 'ca.key');
    if (this.pkiTool === 'mesh') {
      await runOk(process.execPath, [MESH_BIN, 'ca', 'init', '--name', `overlay lab ${this.lab.id}`, '--duration', '24h', '--out-crt', this.caCert, '--out-key', key]);
    } else {
      await runOk('nebula-cert', ['ca', '-name', `overlay lab ${this.lab.id}`, '-duration', '24h', '-out-crt', this.caCert, '-out-key', key]);
    }
    this.caReady = true;
    this.say(`created a certificate authority with ${this.pkiTool === 'mesh' ? 'mesh ca init' : 'nebula-cert ca'} (${this.caCert})`);
  }

  /** Signs the host's certificate (once) with the lab CA. */
  async certify(host: OverlayHost): Promise<void> {
    if (existsSync(host.certPath)) return;
    await this.ensureCA();
    const key = join(this.dir, 'ca.key');
    const ip = `${host.vpnIp}/24`;
    if (this.pkiTool === 'mesh') {
      const args = [MESH_BIN, 'ca', 'sign', '--ca-crt', this.caCert, '--ca-key', key, '--name', host.name, '--ip', ip, '--out-crt', host.certPath, '--out-key', host.keyPath];
      if (host.groups.length > 0) args.push('--groups', host.groups.join(','));
      await runOk(process.execPath, args);
    } else {
      const args = ['sign', '-ca-crt', this.caCert, '-ca-key', key, '-name', host.name, '-ip', ip, '-out-crt', host.certPath, '-out-key', host.keyPath];
      if (host.groups.length > 0) args.push('-groups', host.groups.join(','));
      await runOk('nebula-cert', args);
    }
    this.say(`signed a certificate for "${host.name}" (overlay ${ip}${host.groups.length ? `, groups ${host.groups.join(',')}` : ''})`);
  }

  /** Writes the host's Nebula 1.6 config: every other host in static_host_map, its own TUN name. */
  writeConfig(host: OverlayHost): void {
    const staticHostMap: Record<string, string[]> = {};
    for (const other of this.hosts.values()) if (other !== host) staticHostMap[other.vpnIp] = [`${other.underlayIp}:${other.listenPort}`];
    const yaml = nebulaConfigYaml({
      ca: this.caCert,
      cert: host.certPath,
      key: host.keyPath,
      listen: { host: '0.0.0.0', port: host.listenPort },
      staticHostMap,
      cipher: this.cipher,
      tun: { dev: host.tunDev, mtu: 1300 },
      inbound: host.inbound,
      outbound: host.outbound,
      logLevel: host.logLevel,
    });
    writeFileSync(host.configPath, yaml);
  }

  /**
   * Starts the host's node in its namespace (certificate and config written first), logging to
   * its log file, and waits until it reports that it is running.
   */
  async start(name: string, timeoutMs = 15_000): Promise<OverlayHost> {
    const host = this.host(name);
    if (host.proc && !host.exit) throw new Error(`${name} is already running`);
    await this.certify(host);
    this.writeConfig(host);
    const fd = openSync(host.logPath, 'a');
    const [cmd, args] = host.impl === 'mesh' ? [process.execPath, [MESH_BIN, 'node', '--config', host.configPath]] : ['nebula', ['-config', host.configPath]];
    const offset = existsSync(host.logPath) ? readFileSync(host.logPath).length : 0;
    try {
      host.proc = this.lab.spawn(host.ns, cmd, args, { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    host.exit = undefined;
    const proc = host.proc;
    proc.once('exit', (code, signal) => (host.exit = { code, signal }));
    const ready = host.impl === 'mesh' ? /mesh node started/ : /Nebula interface is active/;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const log = readFileSync(host.logPath, 'utf8').slice(offset);
      if (ready.test(log)) break;
      const exit = exitOf(host);
      if (exit) throw new Error(`${host.impl} node ${name} exited during start (${exit.code ?? exit.signal}):\n${this.logTail(name)}`);
      if (Date.now() > deadline) throw new Error(`${host.impl} node ${name} did not start within ${timeoutMs} ms:\n${this.logTail(name)}`);
      await sleep(50);
    }
    this.say(`started ${host.impl === 'mesh' ? 'mesh node' : 'nebula'} "${name}" in ${host.ns} (pid ${proc.pid}, TUN ${host.tunDev}, cipher ${this.cipher}, log ${host.logPath})`);
    return host;
  }

  /** Sends SIGTERM to the host's node (by PID) and waits for it to exit; returns how it exited. */
  async stop(name: string, timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const host = this.host(name);
    const proc = host.proc;
    if (!proc) throw new Error(`${name} was never started`);
    if (!host.exit) {
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const outcome = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`${name} did not exit within ${timeoutMs} ms of SIGTERM (killed):\n${this.logTail(name)}`);
      }
    }
    const exit = exitOf(host)!;
    this.say(`stopped "${name}" with SIGTERM (exit code ${exit.code ?? exit.signal})`);
    return exit;
  }

  /** One ping over the overlay from host `from` to host `to`'s overlay address. */
  ping(from: string, to: string, count = 1, waitSeconds = 1): Promise<ExecResult> {
    return this.lab.exec(this.host(from).ns, 'ping', ['-n', '-c', String(count), '-W', String(waitSeconds), this.host(to).vpnIp], { timeoutMs: (count + waitSeconds + 5) * 1000 });
  }

  /** Pings until one answer arrives (the first packets also start the handshake). */
  async waitForPing(from: string, to: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: ExecResult | undefined;
    while (Date.now() < deadline) {
      last = await this.ping(from, to, 1, 1);
      if (last.code === 0) {
        const rtt = /time=([\d.]+ ms)/.exec(last.stdout)?.[1];
        this.say(`ping ${from} -> ${to} (${this.host(to).vpnIp}) over the overlay: reply${rtt ? ` in ${rtt}` : ''}`);
        return;
      }
      await sleep(200);
    }
    throw new Error(`no ping reply ${from} -> ${to} within ${timeoutMs} ms: ${last?.stdout.trim()} ${last?.stderr.trim()}\n--- ${from} log:\n${this.logTail(from)}\n--- ${to} log:\n${this.logTail(to)}`);
  }

  /** Starts the TCP checksum server (tcp-tool serve) on the host's overlay address. */
  async tcpServe(name: string, ports: number[]): Promise<ChildProcess> {
    const host = this.host(name);
    const proc = this.lab.spawn(host.ns, process.execPath, [TCP_TOOL, 'serve', host.vpnIp, ports.join(',')]);
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const lines = createInterface({ input: proc.stdout! });
    await Promise.race([
      once(lines, 'line'),
      once(proc, 'exit').then(() => {
        throw new Error(`tcp server on ${name} exited: ${err}`);
      }),
    ]);
    return proc;
  }

  /** Sends `bytes` pseudo-random bytes over TCP from `from` to `to`'s overlay address; returns both checksums. */
  async tcpSend(from: string, to: string, port: number, bytes: number, connectTimeoutMs = 5000, totalTimeoutMs = 120_000): Promise<TcpResult> {
    const out = await this.lab.execOk(this.host(from).ns, process.execPath, [TCP_TOOL, 'send', this.host(to).vpnIp, String(port), String(bytes), String(connectTimeoutMs)], {
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

  log(name: string): string {
    const path = this.host(name).logPath;
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  logTail(name: string, lines = 40): string {
    return this.log(name).trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Log tails of every node that was started, for failure reports. */
  allLogTails(lines = 40): string {
    const parts: string[] = [];
    for (const h of this.hosts.values()) if (h.proc) parts.push(`--- ${h.impl} ${h.name} (${h.ns}, pid ${h.proc.pid}) ${h.logPath}:\n${this.logTail(h.name, lines)}`);
    return parts.join('\n');
  }

  /** Waits until `pattern` appears in the host's log. */
  async waitForLog(name: string, pattern: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.log(name));
      if (m) return m[0];
      if (Date.now() > deadline) throw new Error(`${name} did not log ${pattern} within ${timeoutMs} ms:\n${this.logTail(name)}`);
      await sleep(100);
    }
  }

  /** Whether a network device exists in the host's namespace. */
  async deviceExists(name: string, dev: string): Promise<boolean> {
    const r = await run('ip', ['-n', this.host(name).ns, 'link', 'show', 'dev', dev]);
    return r.code === 0;
  }

  /** Stops the lab's processes (SIGTERM, then SIGKILL), deletes its namespaces and temp directory. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    process.off('exit', this.exitHandler);
    await this.lab.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
    this.say(`cleaned up: stopped our processes, deleted namespaces ${this.lab.namePrefix}${this.lab.id}* (with their veths, bridge and TUN devices) and ${this.dir}`);
  }
}

/**
 * Runs `fn` with a fresh lab; on failure, prints the log tail of every node before rethrowing.
 * The lab is cleaned up either way.
 */
export async function withOverlayLab<T>(
  t: { diagnostic(message: string): void; after(fn: () => unknown): void },
  options: OverlayLabOptions,
  fn: (lab: OverlayLab) => Promise<T>,
): Promise<T> {
  const lab = OverlayLab.create(t, options);
  try {
    return await fn(lab);
  } catch (err) {
    const tails = lab.allLogTails();
    if (tails) process.stderr.write(`\n=== node logs (lab ${lab.lab.id}) ===\n${tails}\n=== end of node logs ===\n`);
    throw err;
  } finally {
    await lab.cleanup();
  }
}

/** The host's exit status (a function so that TypeScript does not narrow it across awaits). */
function exitOf(host: OverlayHost): OverlayHost['exit'] {
  return host.exit;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function fmtBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${n} bytes`;
}
