/**
 * Real-Docker lab for root-only tests of `mesh node --docker-bridge`, built on NetnsLab.
 *
 * Layout: a "switch" namespace with the underlay bridge (172.31.60.0/24), one namespace per host
 * joined to it by a veth. Hosts are a mesh lighthouse (TUN disabled), Docker hosts (their own
 * dockerd plus `mesh node --docker-bridge cluster`) and plain nebula 1.6.1 nodes. The CA is made
 * with `mesh ca init --ips 10.42.0.0/16 --subnets 10.200.0.0/16`; Docker hosts are signed with
 * `--subnets auto`, so the first gets 10.200.0.0/24, the next 10.200.1.0/24, and so on.
 *
 * Each dockerd runs inside its host's namespace, in a private mount namespace, with its own data
 * root, exec root, pidfile and socket (all named after the lab id), and `--dns` pointing at the
 * gateway of the host's container subnet (where the mesh serves container names). Its image store
 * gets `local/busybox`, imported from a rootfs built around Debian's busybox-static (no registry).
 *
 * cleanup() removes the containers, stops each dockerd by the PID we started (SIGTERM, waiting for
 * it), unmounts what it left and deletes its directories, then stops our other processes by PID and
 * deletes our namespaces and temp directory. Never pkill/killall.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nebulaConfigYaml, ALLOW_ALL, type FirewallRule } from './configs.js';
import { NetnsLab, netnsSkipReason, run, runOk, type ExecResult } from './netns.js';
import { MESH_BIN, sleep } from './overlay.js';

export const BUSYBOX = '/bin/busybox';
export const IMAGE = 'local/busybox';
export const NETWORK = 'cluster';
const UNDERLAY_NET = '172.31.60';
const OVERLAY_NET = '10.42.0';
const CA_IPS = '10.42.0.0/16';
const CA_SUBNETS = '10.200.0.0/16';
const LISTEN_PORT = 4242;
const APPLETS = ['sh', 'httpd', 'wget', 'ping', 'sleep', 'cat', 'echo', 'nc', 'nslookup', 'ls', 'ip', 'hostname', 'grep', 'tail', 'timeout'];

export type HostKind = 'lighthouse' | 'docker' | 'nebula';

export interface DockerLabHostOptions {
  kind: HostKind;
  groups?: string[];
  inbound?: FirewallRule[];
  /** tun.unsafe_routes (a nebula host reaching containers behind a mesh host, or a host without --docker-bridge). */
  unsafeRoutes?: { route: string; via: string; mtu?: number }[];
  /**
   * For a Docker host: run `mesh node --docker-bridge` (default). False starts a plain `mesh node`
   * (its container subnet is then served by something else, routed with unsafe_routes).
   */
  dockerBridge?: boolean;
}

export interface Dockerd {
  socket: string;
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  logPath: string;
  proc: ChildProcess;
  exited: Promise<unknown>;
}

export interface LabHost {
  name: string;
  kind: HostKind;
  ns: string;
  underlayIp: string;
  vpnIp: string;
  tunDev: string;
  groups: string[];
  inbound: FirewallRule[];
  unsafeRoutes: { route: string; via: string; mtu?: number }[];
  dockerBridge: boolean;
  certPath: string;
  keyPath: string;
  configPath: string;
  logPath: string;
  /** The container subnet `--subnets auto` gave a Docker host, and its gateway. */
  subnet?: string;
  gateway?: string;
  node?: ChildProcess;
  nodeExit?: { code: number | null; signal: NodeJS.Signals | null };
  dockerd?: Dockerd;
}

/** Why the Docker tier cannot run here, or undefined. */
export async function dockerSkipReason(needs: { nebula?: boolean } = {}): Promise<string | undefined> {
  const netns = netnsSkipReason();
  if (netns) return netns;
  if (!existsSync(MESH_BIN)) return `mesh CLI not built (${MESH_BIN})`;
  const { nativeLoadError } = await import('../io/native.js');
  const err = nativeLoadError();
  if (err) return `native addon not available (needed for the mesh TUN device): ${err.message}`;
  if (!existsSync(BUSYBOX)) return `${BUSYBOX} is missing (apt-get install busybox-static): it is the containers' image`;
  for (const bin of ['dockerd', 'docker', 'nsenter', 'unshare', 'iptables', ...(needs.nebula ? ['nebula'] : [])]) {
    const r = await run('sh', ['-c', `command -v ${bin}`]).catch(() => null);
    if (!r || r.code !== 0) return `\`${bin}\` is not installed${bin.startsWith('docker') ? ' (apt-get install docker.io)' : ''}`;
  }
  return undefined;
}

export class DockerLab {
  readonly lab: NetnsLab;
  readonly dir: string;
  readonly hosts = new Map<string, LabHost>();
  private switchNs?: string;
  private bridgeDev?: string;
  private imageTar?: string;
  private caReady = false;
  private cleaned = false;
  private readonly exitHandler = (): void => this.cleanupSync();

  private constructor(lab: NetnsLab) {
    this.lab = lab;
    this.dir = mkdtempSync(join(tmpdir(), `mesh-docker-${lab.id}-`));
    // Before NetnsLab's own exit handler: dockerd must stop while its namespace still exists.
    process.prependOnceListener('exit', this.exitHandler);
  }

  /** `namePrefix` starts every namespace name and the dockerd paths (default "mdk"). */
  static create(options: { namePrefix?: string } = {}): DockerLab {
    return new DockerLab(NetnsLab.create(undefined, options.namePrefix ?? 'mdk'));
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** Adds a host namespace on the underlay and signs its certificate (Docker hosts get a container subnet). */
  async addHost(name: string, options: DockerLabHostOptions): Promise<LabHost> {
    if (!/^[a-z][a-z0-9]{0,5}$/.test(name)) throw new Error(`host name ${name}: 1-6 lowercase letters/digits`);
    if (!this.switchNs) {
      this.switchNs = await this.lab.namespace('sw');
      this.bridgeDev = await this.lab.bridge(this.switchNs);
    }
    const i = this.hosts.size;
    const ns = await this.lab.namespace(name);
    const link = await this.lab.veth(ns, this.switchNs);
    await this.lab.attach(this.switchNs, this.bridgeDev!, link.b);
    const underlayIp = `${UNDERLAY_NET}.${10 + i}`;
    await this.lab.address(ns, link.a, `${underlayIp}/24`);
    const host: LabHost = {
      name,
      kind: options.kind,
      ns,
      underlayIp,
      vpnIp: `${OVERLAY_NET}.${1 + i}`,
      tunDev: this.lab.ifName('t'),
      groups: options.groups ?? [],
      inbound: options.inbound ?? ALLOW_ALL,
      unsafeRoutes: options.unsafeRoutes ?? [],
      dockerBridge: options.kind === 'docker' && options.dockerBridge !== false,
      certPath: join(this.dir, `${name}.crt`),
      keyPath: join(this.dir, `${name}.key`),
      configPath: join(this.dir, `${name}.yml`),
      logPath: join(this.dir, `${name}.log`),
    };
    this.hosts.set(name, host);
    await this.certify(host);
    return host;
  }

  private async certify(host: LabHost): Promise<void> {
    const caCrt = join(this.dir, 'ca.crt');
    const caKey = join(this.dir, 'ca.key');
    if (!this.caReady) {
      await runOk(process.execPath, [MESH_BIN, 'ca', 'init', '--name', `docker lab ${this.lab.id}`, '--duration', '24h', '--ips', CA_IPS, '--subnets', CA_SUBNETS, '--out-crt', caCrt, '--out-key', caKey]);
      this.caReady = true;
    }
    const args = [MESH_BIN, 'ca', 'sign', '--ca-crt', caCrt, '--ca-key', caKey, '--name', host.name, '--ip', `${host.vpnIp}/16`, '--out-crt', host.certPath, '--out-key', host.keyPath];
    if (host.groups.length > 0) args.push('--groups', host.groups.join(','));
    if (host.kind === 'docker') args.push('--subnets', 'auto');
    const out = await runOk(process.execPath, args);
    if (host.kind === 'docker') {
      const m = /subnet (\d+\.\d+\.\d+)\.0\/24/.exec(out);
      if (!m) throw new Error(`mesh ca sign --subnets auto did not say which subnet it gave ${host.name}: ${out}`);
      host.subnet = `${m[1]}.0/24`;
      host.gateway = `${m[1]}.1`;
    }
  }

  private writeConfig(host: LabHost): void {
    const lighthouses = [...this.hosts.values()].filter((h) => h.kind === 'lighthouse');
    const amLighthouse = host.kind === 'lighthouse';
    const yaml = nebulaConfigYaml({
      ca: join(this.dir, 'ca.crt'),
      cert: host.certPath,
      key: host.keyPath,
      listen: { host: '0.0.0.0', port: LISTEN_PORT },
      staticHostMap: Object.fromEntries(lighthouses.filter((l) => l !== host).map((l) => [l.vpnIp, [`${l.underlayIp}:${LISTEN_PORT}`]])),
      lighthouses: amLighthouse ? [] : lighthouses.map((l) => l.vpnIp),
      amLighthouse,
      tun: { disabled: amLighthouse, dev: host.tunDev, mtu: 1300, unsafe_routes: host.unsafeRoutes },
      inbound: host.inbound,
      outbound: ALLOW_ALL,
      logLevel: 'info',
    });
    writeFileSync(host.configPath, yaml);
  }

  /** Starts the host's node (mesh, with --docker-bridge on Docker hosts, or nebula) and waits until it runs. */
  async startNode(name: string, timeoutMs = 20_000): Promise<void> {
    const host = this.host(name);
    if (host.node && !host.nodeExit) throw new Error(`${name}: node already running`);
    this.writeConfig(host);
    const [cmd, args, ready] =
      host.kind === 'nebula'
        ? ['nebula', ['-config', host.configPath], /Nebula interface is active/]
        : host.dockerBridge
          ? [process.execPath, [MESH_BIN, 'node', '--config', host.configPath, '--docker-bridge', NETWORK], /docker: bridge shim running/]
          : [process.execPath, [MESH_BIN, 'node', '--config', host.configPath], /mesh node started/];
    const env = host.dockerd ? { ...process.env, DOCKER_HOST: `unix://${host.dockerd.socket}` } : process.env;
    const offset = existsSync(host.logPath) ? readFileSync(host.logPath).length : 0;
    const fd = openSync(host.logPath, 'a');
    try {
      host.node = this.lab.spawn(host.ns, cmd as string, args as string[], { stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd);
    }
    host.nodeExit = undefined;
    host.node.once('exit', (code, signal) => (host.nodeExit = { code, signal }));
    const deadline = Date.now() + timeoutMs;
    while (!(ready as RegExp).test(readFileSync(host.logPath, 'utf8').slice(offset))) {
      const exit = host.nodeExit as LabHost['nodeExit'];
      if (exit) throw new Error(`${name}: node exited during start (${exit.code ?? exit.signal}):\n${this.logTail(name)}`);
      if (Date.now() > deadline) throw new Error(`${name}: node did not start within ${timeoutMs} ms:\n${this.logTail(name)}`);
      await sleep(50);
    }
  }

  /** SIGTERM to the node's PID; waits for the exit and returns it. */
  async stopNode(name: string, timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const host = this.host(name);
    const proc = host.node;
    if (!proc) throw new Error(`${name}: node never started`);
    if (!host.nodeExit) {
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    }
    return host.nodeExit!;
  }

  /** Starts the host's own dockerd in its namespace and waits until it answers; imports the image on first start. */
  async startDockerd(name: string, timeoutMs = 30_000): Promise<void> {
    const host = this.host(name);
    if (!host.gateway) throw new Error(`${name} is not a Docker host`);
    if (host.dockerd && host.dockerd.proc.exitCode === null && host.dockerd.proc.signalCode === null) throw new Error(`${name}: dockerd already running`);
    const id = `${this.lab.namePrefix}-${this.lab.id}-${name}`;
    const d = host.dockerd ?? {
      socket: `/run/docker-${id}.sock`,
      dataRoot: `/var/lib/docker-${id}`,
      execRoot: `/run/docker-exec-${id}`,
      pidfile: `/run/docker-${id}.pid`,
      logPath: join(this.dir, `${name}.dockerd.log`),
    };
    // Docker sets this itself too; routing between the TUN and the bridge needs it from the start.
    await this.lab.execOk(host.ns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    const daemon = [
      'exec dockerd --storage-driver=overlay2',
      `--data-root ${d.dataRoot} --exec-root ${d.execRoot} --pidfile ${d.pidfile}`,
      `-H unix://${d.socket} --dns ${host.gateway}`,
    ].join(' ');
    const fd = openSync(d.logPath, 'a');
    let proc: ChildProcess;
    try {
      // nsenter and unshare exec in place: the child's PID is dockerd's.
      proc = spawn('nsenter', [`--net=/run/netns/${host.ns}`, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', daemon], { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const exited = once(proc, 'exit');
    host.dockerd = { ...d, proc, exited };
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await this.docker(name, ['version'], 5000)).code === 0) break;
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name}: dockerd exited during start:\n${tail(d.logPath)}`);
      if (Date.now() > deadline) throw new Error(`${name}: dockerd did not answer within ${timeoutMs} ms:\n${tail(d.logPath)}`);
      await sleep(200);
    }
    if ((await this.docker(name, ['image', 'inspect', IMAGE])).code !== 0) {
      await this.dockerOk(name, ['import', '--change', 'CMD ["/bin/sh"]', this.buildImageTar(), IMAGE], 60_000);
    }
  }

  /**
   * Stops the host's dockerd: SIGTERM to its PID, then waits. Containers stay unless `removeContainers`
   * (busybox as PID 1 ignores SIGTERM; containers run with --init stop at once).
   */
  async stopDockerd(name: string, options: { removeContainers: boolean }, timeoutMs = 30_000): Promise<void> {
    const d = this.host(name).dockerd;
    if (!d || d.proc.exitCode !== null || d.proc.signalCode !== null) return;
    if (options.removeContainers) {
      const ids = (await this.docker(name, ['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await this.docker(name, ['rm', '-f', ...ids], 30_000);
    }
    d.proc.kill('SIGTERM');
    const timer = setTimeout(() => d.proc.kill('SIGKILL'), timeoutMs);
    await d.exited;
    clearTimeout(timer);
  }

  /** `docker -H <the host's socket> ARGS` (never rejects on a non-zero exit). */
  docker(name: string, args: readonly string[], timeoutMs = 20_000): Promise<ExecResult> {
    const d = this.host(name).dockerd;
    if (!d) throw new Error(`${name} has no dockerd`);
    return run('docker', ['-H', `unix://${d.socket}`, ...args], { timeoutMs });
  }

  async dockerOk(name: string, args: readonly string[], timeoutMs = 20_000): Promise<string> {
    const r = await this.docker(name, args, timeoutMs);
    if (r.code !== 0) throw new Error(`${name}: docker ${args.join(' ')} failed (${r.code ?? r.signal}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout.trim();
  }

  /** Runs a detached busybox container on the `cluster` network, restarted with dockerd. */
  async runContainer(name: string, container: string, ip: string, command: string[]): Promise<void> {
    await this.dockerOk(name, ['run', '-d', '--init', '--pull', 'never', '--restart', 'always', '--name', container, '--hostname', container, '--network', NETWORK, '--ip', ip, IMAGE, ...command]);
  }

  /** A busybox httpd serving "<text>\n" on `port`, logging each request (with the client address) to stderr. */
  httpdCommand(port: number, text: string): string[] {
    return ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -vv -p ${port} -h /www`];
  }

  exec(name: string, container: string, command: string[], timeoutMs = 20_000): Promise<ExecResult> {
    return this.docker(name, ['exec', container, ...command], timeoutMs);
  }

  /** `iptables -S` of a chain in the host's namespace, one rule a line. */
  async iptablesRules(name: string, table: 'filter' | 'nat', chain: string): Promise<string[]> {
    const out = await this.lab.execOk(this.host(name).ns, 'iptables', ['-w', '5', '-t', table, '-S', chain]);
    return out.split('\n').filter((l) => l.startsWith('-A '));
  }

  /** The full ruleset of the host's namespace (iptables-save without counters and comments). */
  async iptablesSave(name: string): Promise<string[]> {
    const out = await this.lab.execOk(this.host(name).ns, 'iptables-save', []);
    return out.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith(':'));
  }

  log(name: string): string {
    const path = this.host(name).logPath;
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  logTail(name: string, lines = 40): string {
    return this.log(name).trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Waits until `pattern` appears in the node's log. */
  async waitForLog(name: string, pattern: RegExp, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.log(name))) {
      if (Date.now() > deadline) throw new Error(`${name} did not log ${pattern} within ${timeoutMs} ms:\n${this.logTail(name)}`);
      await sleep(100);
    }
  }

  allLogTails(lines = 30): string {
    const parts: string[] = [];
    for (const h of this.hosts.values()) {
      if (h.node) parts.push(`--- node ${h.name} (${h.ns}) ${h.logPath}:\n${this.logTail(h.name, lines)}`);
      if (h.dockerd) parts.push(`--- dockerd ${h.name} ${h.dockerd.logPath}:\n${tail(h.dockerd.logPath, lines)}`);
    }
    return parts.join('\n');
  }

  /** A rootfs with busybox and its applets as symlinks, tarred once for `docker import`. */
  private buildImageTar(): string {
    if (this.imageTar) return this.imageTar;
    const root = join(this.dir, 'rootfs');
    for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'www']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
    execFileSync('chmod', ['755', join(root, 'bin', 'busybox')]);
    for (const applet of APPLETS) symlinkSync('busybox', join(root, 'bin', applet));
    const tar = join(this.dir, 'busybox.tar');
    execFileSync('tar', ['-C', root, '-cf', tar, '.']);
    this.imageTar = tar;
    return tar;
  }

  /** Stops dockerds (containers removed first), then our other processes, namespaces and files. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    process.off('exit', this.exitHandler);
    for (const h of this.hosts.values()) {
      if (!h.dockerd) continue;
      await this.stopDockerd(h.name, { removeContainers: true }).catch(() => {});
      removeDockerDirs(h.dockerd);
    }
    await this.lab.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Last resort on process exit: the same, synchronously and best effort. */
  private cleanupSync(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const h of this.hosts.values()) {
      const d = h.dockerd;
      if (!d) continue;
      if (d.proc.exitCode === null && d.proc.signalCode === null && d.proc.pid !== undefined) {
        try {
          const ids = execFileSync('docker', ['-H', `unix://${d.socket}`, 'ps', '-aq'], { encoding: 'utf8', timeout: 10_000 }).split('\n').filter(Boolean);
          if (ids.length > 0) execFileSync('docker', ['-H', `unix://${d.socket}`, 'rm', '-f', ...ids], { stdio: 'ignore', timeout: 30_000 });
          process.kill(d.proc.pid, 'SIGTERM');
          for (let i = 0; i < 100 && isAlive(d.proc.pid); i++) execFileSync('sleep', ['0.1']);
        } catch {
          // best effort
        }
      }
      removeDockerDirs(d);
    }
    this.lab.cleanupSync();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function removeDockerDirs(d: Dockerd): void {
  unmountUnder([d.dataRoot, d.execRoot]);
  for (const p of [d.dataRoot, d.execRoot, d.pidfile, d.socket]) rmSync(p, { recursive: true, force: true });
}

/** Lazily unmounts anything still mounted under the given directories (in our mount namespace). */
function unmountUnder(dirs: string[]): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => dirs.some((d) => m === d || m.startsWith(`${d}/`)))
    .reverse();
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tail(path: string, lines = 30): string {
  return existsSync(path) ? readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '';
}

/** Retries `attempt` (a command in a container, say) until it exits 0; throws with the last output. */
export async function eventually(what: string, attempt: () => Promise<ExecResult>, timeoutMs = 20_000): Promise<ExecResult> {
  const deadline = Date.now() + timeoutMs;
  let last: ExecResult;
  do {
    last = await attempt();
    if (last.code === 0) return last;
    await sleep(300);
  } while (Date.now() < deadline);
  throw new Error(`${what}: no success within ${timeoutMs} ms (exit ${last.code ?? last.signal}): ${last.stdout.trim()} ${last.stderr.trim()}`);
}
