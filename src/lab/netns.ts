/**
 * Network-namespace sandbox for the root-only labs (integration tests, `npm run demo`, the bench).
 *
 * Everything a NetnsLab creates lives in namespaces it created itself (names "mt" + random id):
 * veth pairs are created directly inside those namespaces, bridges only inside a namespace (never
 * in the root namespace, where a running dockerd filters bridged traffic). Cleanup kills only the
 * PIDs the lab spawned and deletes only the namespaces it added (which removes their interfaces).
 * It runs on test end (when given a test context) and on process exit. Never pkill/killall.
 *
 * Address plan suggestion: 172.31.x.y inside the namespaces; traffic never leaves them.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { controlDir } from '../node/control.js';
import { randomBytes } from 'node:crypto';

let skipReason: string | undefined | null = null;

/**
 * Returns why root/netns tests cannot run here (not root, no `ip`, no /dev/net/tun, namespaces
 * not permitted), or undefined when they can. The result is cached.
 */
export function netnsSkipReason(): string | undefined {
  if (skipReason !== null) return skipReason;
  skipReason = probe();
  return skipReason;
}

function probe(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and TUN devices)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return '`ip` (iproute2) is not installed';
  }
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun does not exist';
  const name = `mtprobe${randomBytes(3).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', name], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    return `cannot create network namespaces: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    // best effort
  }
  return undefined;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Minimal test-context shape (node:test's TestContext satisfies it). */
export interface CleanupHost {
  after(fn: () => unknown): void;
}

/** Runs a command, resolving with its exit status and output (never rejects on non-zero exit); `env` replaces the environment. */
export function run(cmd: string, args: readonly string[], options: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: options.timeoutMs ?? 20_000, maxBuffer: 16 << 20, ...(options.env ? { env: options.env } : {}) }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
        reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}`));
        return;
      }
      const e = err as (Error & { code?: number; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (e.code ?? null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like run() but throws (with stderr) unless the command exits 0. */
export async function runOk(cmd: string, args: readonly string[], options: { timeoutMs?: number; input?: string } = {}): Promise<string> {
  const r = await run(cmd, args, options);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code ?? r.signal}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** How a process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Sends `signal` to the child (by its PID) and waits until it has exited, sending SIGKILL after
 * `graceMs`. Resolves true when SIGKILL was needed, false otherwise (also when it had already exited).
 */
export async function terminate(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 2000): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return false;
  const exited = once(child, 'exit');
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, graceMs);
  child.kill(signal);
  await exited;
  clearTimeout(timer);
  return killed;
}

export class NetnsLab {
  /** Short random id shared by every name this lab creates. */
  readonly id = randomBytes(3).toString('hex');
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private ifCounter = 0;
  private closed = false;
  private readonly exitHandler = (): void => this.cleanupSync();

  private constructor(readonly namePrefix: string) {
    process.once('exit', this.exitHandler);
  }

  /**
   * Creates a lab; with a test context, cleanup runs when the test ends. Throws if
   * netnsSkipReason() says this host cannot run netns tests. `namePrefix` starts every namespace
   * name (default "mt"), so that labs of different test files are told apart.
   */
  static create(t?: CleanupHost, namePrefix = 'mt'): NetnsLab {
    const reason = netnsSkipReason();
    if (reason) throw new Error(`netns tests unavailable: ${reason}`);
    const lab = new NetnsLab(namePrefix);
    t?.after(() => lab.cleanup());
    return lab;
  }

  /** A fresh interface name, unique to this lab, at most 15 characters ("<prefix><id><n>"). */
  ifName(prefix = 'v'): string {
    const name = `${prefix}${this.id}${this.ifCounter++}`;
    if (name.length > 15) throw new Error(`interface name ${name} is longer than 15 characters`);
    return name;
  }

  /** Creates a namespace "<namePrefix><id><label>" with loopback up; returns its name. */
  async namespace(label = String(this.namespaces.length)): Promise<string> {
    if (this.closed) throw new Error('netns lab is cleaned up');
    const name = `${this.namePrefix}${this.id}${label}`;
    await runOk('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await this.ip(name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /** Runs `ip -n NS ...` and returns stdout; throws on failure. */
  ip(ns: string, ...args: string[]): Promise<string> {
    return runOk('ip', ['-n', ns, ...args]);
  }

  /**
   * Creates a veth pair with one end in each namespace (created directly there, never in the root
   * namespace) and brings both ends up. Returns the two interface names.
   */
  async veth(nsA: string, nsB: string, names: { a?: string; b?: string } = {}): Promise<{ a: string; b: string }> {
    const a = names.a ?? this.ifName('va');
    const b = names.b ?? this.ifName('vb');
    await this.ip(nsA, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', nsB);
    await this.ip(nsA, 'link', 'set', a, 'up');
    await this.ip(nsB, 'link', 'set', b, 'up');
    return { a, b };
  }

  /** Creates a bridge inside `ns` (only ever inside a lab namespace) and brings it up. */
  async bridge(ns: string, name = this.ifName('br')): Promise<string> {
    if (!this.namespaces.includes(ns)) throw new Error(`refusing to create a bridge outside the lab's namespaces (${ns})`);
    await this.ip(ns, 'link', 'add', name, 'type', 'bridge');
    await this.ip(ns, 'link', 'set', name, 'up');
    return name;
  }

  /** Enslaves `dev` (in `ns`) to `bridge` (in the same namespace). */
  async attach(ns: string, bridge: string, dev: string): Promise<void> {
    await this.ip(ns, 'link', 'set', dev, 'master', bridge);
  }

  /** Adds an address like "172.31.1.1/24" to `dev` in `ns` and brings the device up. */
  async address(ns: string, dev: string, cidr: string): Promise<void> {
    await this.ip(ns, 'addr', 'add', cidr, 'dev', dev);
    await this.ip(ns, 'link', 'set', dev, 'up');
  }

  /** Whether the network device `dev` exists in `ns`. */
  async linkExists(ns: string, dev: string): Promise<boolean> {
    return (await run('ip', ['-n', ns, 'link', 'show', 'dev', dev])).code === 0;
  }

  /** Sets a sysctl inside `ns`, e.g. sysctl(ns, 'net.ipv4.ip_forward', 1). */
  async sysctl(ns: string, key: string, value: string | number): Promise<void> {
    await this.execOk(ns, 'sysctl', ['-q', '-w', `${key}=${value}`]);
  }

  /** Runs a command inside `ns` (`ip netns exec NS cmd ...`) to completion. */
  exec(ns: string, cmd: string, args: readonly string[] = [], options: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], options);
  }

  /** Like exec() but throws unless the command exits 0; returns stdout. */
  async execOk(ns: string, cmd: string, args: readonly string[] = [], options: { timeoutMs?: number; input?: string } = {}): Promise<string> {
    return runOk('ip', ['netns', 'exec', ns, cmd, ...args], options);
  }

  /**
   * Starts a long-running process inside `ns`. `ip netns exec` execs the command in place, so the
   * child's PID is the command's PID; cleanup() kills exactly this PID.
   */
  spawn(ns: string, cmd: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    if (this.closed) throw new Error('netns lab is cleaned up');
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills the lab's processes (SIGTERM, then SIGKILL after a grace period) and deletes its namespaces. */
  async cleanup(graceMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.exitHandler);
    const alive = [...this.children].filter((c) => c.pid !== undefined);
    await Promise.all(alive.map((child) => terminate(child, 'SIGTERM', graceMs)));
    for (const ns of this.namespaces.splice(0)) {
      await run('ip', ['netns', 'del', ns]);
      removeControlDir(ns);
    }
  }

  /** Synchronous last-resort cleanup for process exit. */
  cleanupSync(): void {
    if (this.closed) return;
    this.closed = true;
    for (const child of this.children) {
      try {
        if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const ns of this.namespaces.splice(0)) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // best effort
      }
      removeControlDir(ns);
    }
  }
}

/**
 * The control socket directory of one of our namespaces (/run/mesh/netns-<name>): a node that exits
 * cleanly removes it, one the test killed (SIGKILL, a crash under test) leaves its socket there.
 */
function removeControlDir(ns: string): void {
  rmSync(controlDir(ns), { recursive: true, force: true });
}
