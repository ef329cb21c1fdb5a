/**
 * What every node lab shares (the overlay, NAT and Docker labs here, the relay lab of the tests),
 * built on NetnsLab:
 *
 *  - namespaces: one per host, plus a "switch" namespace whose bridge(s) form the underlay (never a
 *    bridge in the root namespace); plug() joins a host to a bridge with a veth;
 *  - certificates made with `mesh ca` or `nebula-cert` (ToolCA), configs and one log file per node
 *    in a temp directory;
 *  - node processes (`mesh node`/`nebula`) started in their namespace with their output appended to
 *    their log file, waited for until ready, stopped by PID;
 *  - log reads, tails and waits, overlay pings, failure diagnostics;
 *  - cleanup: when the test ends (pass or fail) and on process exit as a last resort, it kills only
 *    the processes this lab started, deletes only its namespaces (with their veths, bridges and TUN
 *    devices) and its temp directory. Never pkill/killall.
 *
 * Each lab keeps only what is its own: its address plan, its config, its extras.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringifyYaml } from '../yaml.js';
import { MESH_BIN } from './binaries.js';
import { ToolCA, type CertTool, type SignOptions, type ToolCAOptions } from './certs.js';
import { nebulaConfig, type NodeConfigOptions } from './configs.js';
import { NetnsLab, netnsSkipReason, run, terminate, type CleanupHost, type ExecResult, type ProcessExit } from './netns.js';
import { pollUntil } from './wait.js';

/** What every lab knows about each of its nodes. */
export interface LabNode {
  name: string;
  ns: string;
  vpnIp: string;
  /** An IPv6 overlay address, when the lab gives the node one. */
  vpnIp6?: string;
  tunDev: string;
  certPath: string;
  keyPath: string;
  configPath: string;
  logPath: string;
  /** The running node, if any (its PID is the node's PID: `ip netns exec` execs in place). */
  proc?: ChildProcess;
  /** Set when the running process exits. */
  exit?: ProcessExit;
}

export interface LabOptions {
  /** Names the temp directory ("mesh-<kind>-<id>-"), the progress lines and the <KIND>_VERBOSE variable. */
  kind: string;
  /** Starts every namespace name. */
  namePrefix: string;
  /** Called with a plain-words description of each step (<KIND>_VERBOSE=1 prints them to stderr). */
  say?: (message: string) => void;
  /** Who makes the certificates, and the CA's constraints. */
  pki: CertTool;
  ca?: ToolCAOptions;
  /** The underlay switch: its namespace label, its number of bridges and how to name it in progress lines. */
  underlay?: { label?: string; bridges?: number; description?: string };
}

/** Why a node lab cannot run here (root/netns, mesh CLI, native addon, commands), or undefined. */
export async function labSkipReason(needs: { nebula?: boolean; nebulaCert?: boolean; meshTun?: boolean; commands?: readonly string[] } = {}): Promise<string | undefined> {
  const netns = netnsSkipReason();
  if (netns) return netns;
  if (!existsSync(MESH_BIN)) return `mesh CLI not built (${MESH_BIN})`;
  if (needs.meshTun !== false) {
    const { nativeLoadError } = await import('../io/native.js');
    const err = nativeLoadError();
    if (err) return `native addon not available (needed for the mesh TUN device): ${err.message}`;
  }
  const commands = [...(needs.nebula ? ['nebula'] : []), ...(needs.nebulaCert ? ['nebula-cert'] : []), ...(needs.commands ?? [])];
  for (const bin of commands) {
    const r = await run('sh', ['-c', `command -v ${bin}`]).catch(() => null);
    if (!r || r.code !== 0) return `\`${bin}\` is not installed${INSTALL_HINTS[bin] ?? ''}`;
  }
  return undefined;
}

const INSTALL_HINTS: Record<string, string> = { dockerd: ' (apt-get install docker.io)', docker: ' (apt-get install docker.io)' };

/** A lab's `net` option (it picks the lab's address plan): 1 by default, else 1..`max`. */
export function checkNet(net: number | undefined, max: number): number {
  const n = net ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`net must be 1..${max}`);
  return n;
}

/** The last `lines` lines of a file ('' if it does not exist). */
export function tailFile(path: string, lines = 40): string {
  return existsSync(path) ? readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '';
}

export abstract class Lab<H extends LabNode> {
  readonly lab: NetnsLab;
  readonly dir: string;
  readonly hosts = new Map<string, H>();
  readonly kind: string;
  protected readonly ca: ToolCA;
  protected readonly say: (message: string) => void;
  private readonly underlay: { label: string; bridges: number; description?: string };
  private switchNs?: string;
  private bridges: string[] = [];
  private cleaned = false;
  // Runs before NetnsLab's own exit handler, so that a lab's extras (dockerd) go while their namespace exists.
  private readonly exitHandler = (): void => this.cleanupSync();

  protected constructor(options: LabOptions) {
    this.kind = options.kind;
    this.lab = NetnsLab.create(undefined, options.namePrefix);
    const t0 = Date.now();
    this.say =
      options.say ??
      (process.env[`${options.kind.toUpperCase()}_VERBOSE`] ? (m) => process.stderr.write(`[${options.kind} ${this.lab.id} +${Date.now() - t0} ms] ${m}\n`) : () => {});
    this.dir = mkdtempSync(join(tmpdir(), `mesh-${options.kind}-${this.lab.id}-`));
    this.ca = new ToolCA(options.pki, this.dir, `${options.kind} lab ${this.lab.id}`, options.ca);
    this.underlay = { label: options.underlay?.label ?? 'sw', bridges: options.underlay?.bridges ?? 1, description: options.underlay?.description };
    process.prependOnceListener('exit', this.exitHandler);
  }

  /** With a test context, cleanup() runs when the test ends (pass or fail). Returns the lab. */
  protected cleanupAfter(t?: CleanupHost): this {
    t?.after(() => this.cleanup());
    return this;
  }

  host(name: string): H {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /**
   * Checks a name (1-`maxLength` lowercase letters and digits, not in `taken`) and creates its
   * namespace "<prefix><id><label>".
   */
  protected async hostNamespace(name: string, maxLength: number, taken: ReadonlyMap<string, unknown> = this.hosts, label = name): Promise<string> {
    if (!new RegExp(`^[a-z][a-z0-9]{0,${maxLength - 1}}$`).test(name)) throw new Error(`name ${name}: 1-${maxLength} lowercase letters/digits`);
    if (taken.has(name)) throw new Error(`${name} exists`);
    return this.lab.namespace(label);
  }

  /** The per-node fields every lab fills the same way: a unique TUN name and the node's files. */
  protected nodeFiles(name: string): Pick<LabNode, 'tunDev' | 'certPath' | 'keyPath' | 'configPath' | 'logPath'> {
    return {
      tunDev: this.lab.ifName('t'),
      certPath: join(this.dir, `${name}.crt`),
      keyPath: join(this.dir, `${name}.key`),
      configPath: join(this.dir, `${name}.yml`),
      logPath: join(this.dir, `${name}.log`),
    };
  }

  /**
   * Joins `ns` to bridge number `bridge` of the underlay switch (made on first use) with a veth pair;
   * returns the device name on `ns`'s side.
   */
  protected async plug(ns: string, bridge = 0): Promise<string> {
    if (!this.switchNs) {
      const sw = await this.lab.namespace(this.underlay.label);
      for (let i = 0; i < this.underlay.bridges; i++) this.bridges.push(await this.lab.bridge(sw));
      this.switchNs = sw;
      const what = this.bridges.length === 1 ? `bridge ${this.bridges[0]}` : `bridges ${this.bridges.join(', ')}`;
      this.say(`created namespace ${sw} with ${what} as ${this.underlay.description ?? 'the underlay switch'}`);
    }
    const link = await this.lab.veth(ns, this.switchNs);
    await this.lab.attach(this.switchNs, this.bridges[bridge]!, link.b);
    return link.a;
  }

  /** What the host's certificate holds: its overlay address (a /24 by default) and sign options. */
  protected certRequest(host: H): { ipCidr: string; options?: SignOptions } {
    return { ipCidr: `${host.vpnIp}/24` };
  }

  /** Signs the host's certificate (once) with the lab CA; returns the tool's output ('' if it was signed before). */
  async certify(host: H): Promise<string> {
    if (existsSync(host.certPath)) return '';
    if (await this.ca.ensure()) this.say(`created a certificate authority with ${this.ca.tool === 'mesh' ? 'mesh ca init' : 'nebula-cert ca'} (${this.ca.crt})`);
    const { ipCidr, options = {} } = this.certRequest(host);
    const out = await this.ca.sign(host.name, ipCidr, host, options);
    this.say(`signed a certificate for "${host.name}" (overlay ${ipCidr}${options.groups?.length ? `, groups ${options.groups.join(',')}` : ''})`);
    return out;
  }

  /** A Nebula 1.6 config for `host` with the lab's CA and the host's certificate and key. */
  protected nodeConfig(host: H, options: Omit<NodeConfigOptions, 'ca' | 'cert' | 'key'>): Record<string, unknown> {
    return nebulaConfig({ ca: this.ca.crt, cert: host.certPath, key: host.keyPath, ...options });
  }

  protected writeConfig(host: H, config: Record<string, unknown>): void {
    writeFileSync(host.configPath, stringifyYaml(config));
  }

  /**
   * Starts `cmd` in the host's namespace, its output appended to the host's log, and waits until it
   * is ready: `ready` matches what it logs from now on, or says so itself. Throws with the log tail
   * if it exits or does not get ready within `timeoutMs`.
   */
  protected async launch(
    host: H,
    [cmd, args]: [string, string[]],
    ready: RegExp | (() => Promise<boolean>),
    options: { timeoutMs: number; env?: NodeJS.ProcessEnv },
  ): Promise<ChildProcess> {
    if (host.proc && !exitOf(host)) throw new Error(`${host.name} is already running`);
    const offset = existsSync(host.logPath) ? statSync(host.logPath).size : 0;
    const fd = openSync(host.logPath, 'a');
    let proc: ChildProcess;
    try {
      proc = this.lab.spawn(host.ns, cmd, args, { stdio: ['ignore', fd, fd], ...(options.env ? { env: options.env } : {}) });
    } finally {
      closeSync(fd);
    }
    host.proc = proc;
    host.exit = undefined;
    proc.once('exit', (code, signal) => (host.exit = { code, signal }));
    const isReady = ready instanceof RegExp ? async () => ready.test(readFileSync(host.logPath).subarray(offset).toString('utf8')) : ready;
    await pollUntil(
      async () => {
        if (await isReady()) return true;
        const exit = exitOf(host);
        if (exit) throw new Error(`${this.describe(host)} exited during start (${exit.code ?? exit.signal}):\n${this.logTail(host.name)}`);
        return false;
      },
      options.timeoutMs,
      () => `${this.describe(host)} did not start within ${options.timeoutMs} ms:\n${this.logTail(host.name)}`,
    );
    return proc;
  }

  /**
   * Stops the host's node by PID with `signal` and waits for it to exit; returns how it exited. A node
   * that SIGTERM does not stop within `timeoutMs` is killed, and stop() throws.
   */
  async stop(name: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', timeoutMs = 10_000): Promise<ProcessExit> {
    const host = this.host(name);
    const proc = host.proc;
    if (!proc) throw new Error(`${name} was never started`);
    if (!exitOf(host)) {
      const killed = await terminate(proc, signal, timeoutMs);
      if (killed && signal !== 'SIGKILL') throw new Error(`${name} did not exit within ${timeoutMs} ms of ${signal} (killed):\n${this.logTail(name)}`);
    }
    const exit = exitOf(host)!;
    this.say(`stopped "${name}" with ${signal} (pid ${proc.pid}, exit ${exit.code ?? exit.signal})`);
    return exit;
  }

  /** `to`'s overlay address of `family`. */
  private addressOf(to: string, family: 4 | 6): string {
    const host = this.host(to);
    if (family === 6 && !host.vpnIp6) throw new Error(`${to} has no IPv6 overlay address`);
    return family === 4 ? host.vpnIp : host.vpnIp6!;
  }

  /** Pings `to`'s overlay address (`ping -6` to its IPv6 one) from `from`'s namespace. */
  ping(from: string, to: string, count = 1, waitSeconds = 1, family: 4 | 6 = 4): Promise<ExecResult> {
    const args = ['-n', ...(family === 6 ? ['-6'] : []), '-c', String(count), '-W', String(waitSeconds), this.addressOf(to, family)];
    return this.lab.exec(this.host(from).ns, 'ping', args, { timeoutMs: (count + waitSeconds + 5) * 1000 });
  }

  /** Pings until one answer arrives (the first packets also start the handshake); returns the ms it took. */
  async waitForPing(from: string, to: string, timeoutMs = 15_000, family: 4 | 6 = 4): Promise<number> {
    const t0 = Date.now();
    let last: ExecResult | undefined;
    await pollUntil(
      async () => (last = await this.ping(from, to, 1, 1, family)).code === 0,
      timeoutMs,
      () =>
        `no ping reply ${from} -> ${to} within ${timeoutMs} ms: ${last?.stdout.trim()} ${last?.stderr.trim()}\n` +
        `--- ${from} log:\n${this.logTail(from)}\n--- ${to} log:\n${this.logTail(to)}`,
      100,
    );
    const ms = Date.now() - t0;
    const rtt = /time=([\d.]+ ms)/.exec(last!.stdout)?.[1];
    this.say(`ping ${from} -> ${to} (${this.addressOf(to, family)}) over the overlay: reply after ${ms} ms${rtt ? ` (rtt ${rtt})` : ''}`);
    return ms;
  }

  /** Whether a network device exists in the host's namespace. */
  deviceExists(name: string, dev: string): Promise<boolean> {
    return this.lab.linkExists(this.host(name).ns, dev);
  }

  log(name: string): string {
    const path = this.host(name).logPath;
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  logTail(name: string, lines = 40): string {
    return tailFile(this.host(name).logPath, lines);
  }

  /** Waits until `pattern` appears in the host's log; returns the match. */
  waitForLog(name: string, pattern: RegExp, timeoutMs = 5000): Promise<string> {
    return pollUntil(
      () => pattern.exec(this.log(name))?.[0],
      timeoutMs,
      () => `${name} did not log ${pattern} within ${timeoutMs} ms:\n${this.logTail(name)}`,
      100,
    );
  }

  /** How progress lines and failure reports name a host. */
  protected describe(host: H): string {
    return host.name;
  }

  /** Log tails of every node that was started, for failure reports. */
  allLogTails(lines = 40): string {
    const parts: string[] = [];
    for (const h of this.hosts.values()) if (h.proc) parts.push(`--- ${this.describe(h)} (${h.ns}, pid ${h.proc.pid}) ${h.logPath}:\n${this.logTail(h.name, lines)}`);
    return parts.join('\n');
  }

  /** What explains a failure: the log tails (labs add their own state). */
  async diagnostics(lines = 40): Promise<string> {
    return this.allLogTails(lines);
  }

  /** A lab's own things to undo before its processes and namespaces go (dockerd, say). */
  protected async cleanupExtras(): Promise<void> {}

  /** The same, synchronously and best effort, for process exit. */
  protected cleanupExtrasSync(): void {}

  /** Stops the lab's processes (SIGTERM, then SIGKILL), deletes its namespaces and temp directory. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    process.off('exit', this.exitHandler);
    await this.cleanupExtras();
    await this.lab.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
    this.say(`cleaned up: stopped our processes, deleted namespaces ${this.lab.namePrefix}${this.lab.id}* (with their veths, bridges and TUN devices) and ${this.dir}`);
  }

  /** Last resort on process exit. */
  private cleanupSync(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    this.cleanupExtrasSync();
    this.lab.cleanupSync();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` with `lab`; on failure prints the lab's diagnostics (node log tails and more) before
 * rethrowing. The lab is cleaned up either way.
 */
export async function withLab<L extends Lab<LabNode>, T>(lab: L, fn: (lab: L) => Promise<T>): Promise<T> {
  try {
    return await fn(lab);
  } catch (err) {
    const report = await lab.diagnostics().catch((e: unknown) => `(no diagnostics: ${String(e)})`);
    if (report) process.stderr.write(`\n=== ${lab.kind} lab ${lab.lab.id} diagnostics ===\n${report}\n=== end of diagnostics ===\n`);
    throw err;
  } finally {
    await lab.cleanup();
  }
}

/** The host's exit status (a function so that TypeScript does not narrow it across awaits). */
function exitOf(host: LabNode): ProcessExit | undefined {
  return host.exit;
}
