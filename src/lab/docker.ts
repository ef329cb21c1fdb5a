/**
 * Real-Docker lab for root-only tests of `mesh node --docker-bridge` and the demo, a Lab (see lab.ts).
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
 * With `enroll: true`, Docker hosts join as a user's would: `mesh ca serve` runs beside the
 * lighthouse (in its namespace, port 4243), and each Docker host runs `mesh join TOKEN --docker-bridge
 * cluster` with a token from `mesh ca token create --subnet auto`; its node then runs from the
 * config `mesh join` wrote (the lab sets only its unique TUN name and, without dockerd, unsafe_routes).
 *
 * Before the shared cleanup, cleanup() removes the containers, stops each dockerd by the PID we
 * started (SIGTERM, SIGKILL after its timeout), stops whatever still names its exec root (a
 * containerd-shim orphaned by a dockerd that died before reaping it, with its container), unmounts
 * what it left and deletes its directories.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseYaml, stringifyYaml } from '../yaml.js';
import { MESH_BIN, nodeCommand, READY } from './binaries.js';
import type { SignOptions } from './certs.js';
import { ALLOW_ALL, type FirewallRule } from './configs.js';
import { Lab, labSkipReason, tailFile, type LabNode } from './lab.js';
import { run, terminate, type ExecResult } from './netns.js';
import { pollUntil } from './wait.js';

export const BUSYBOX = '/bin/busybox';
export const IMAGE = 'local/busybox';
export const NETWORK = 'cluster';
const UNDERLAY_NET = '172.31.60';
const OVERLAY_NET = '10.42.0';
const CA_IPS = '10.42.0.0/16';
const CA_SUBNETS = '10.200.0.0/16';
const LISTEN_PORT = 4242;
const SERVICE_PORT = 4243;
const APPLETS = ['sh', 'httpd', 'wget', 'ping', 'sleep', 'cat', 'echo', 'nc', 'nslookup', 'ls', 'ip', 'hostname', 'grep', 'tail', 'timeout', 'seq'];

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
  /** For a Docker host: its container subnet (`mesh ca sign --subnets CIDR`) instead of the next /24. */
  subnet?: string;
}

export interface Dockerd {
  socket: string;
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  logPath: string;
  proc: ChildProcess;
}

export interface DockerHost extends LabNode {
  kind: HostKind;
  underlayIp: string;
  groups: string[];
  inbound: FirewallRule[];
  unsafeRoutes: { route: string; via: string; mtu?: number }[];
  dockerBridge: boolean;
  /** Enrollment mode: the config `mesh join` wrote for this host. */
  joinedConfig?: string;
  /** The container subnet `--subnets auto` (or `mesh join`) gave a Docker host, and its gateway. */
  subnet?: string;
  gateway?: string;
  dockerd?: Dockerd;
}

/** Why the Docker tier cannot run here, or undefined. */
export async function dockerSkipReason(needs: { nebula?: boolean } = {}): Promise<string | undefined> {
  const reason = await labSkipReason({ meshTun: true, nebula: needs.nebula, commands: ['dockerd', 'docker', 'nsenter', 'unshare', 'iptables'] });
  if (reason) return reason;
  if (!existsSync(BUSYBOX)) return `${BUSYBOX} is missing (apt-get install busybox-static): it is the containers' image`;
  return undefined;
}

export class DockerLab extends Lab<DockerHost> {
  private imageTar?: string;
  /** Enrollment mode: the `mesh ca serve` process's pseudo-host (in the lighthouse's namespace). */
  private service?: DockerHost;

  private constructor(
    namePrefix: string,
    private readonly enroll: boolean,
    certVersion: 1 | 2,
  ) {
    super({ kind: 'docker', namePrefix, pki: 'mesh', ca: { ips: CA_IPS, subnets: CA_SUBNETS, version: certVersion } });
  }

  /**
   * `namePrefix` starts every namespace name and the dockerd paths (default "mdk"); `enroll`: Docker
   * hosts join with `mesh join` instead of being signed with `mesh ca sign`; `certVersion`: the CA's
   * and hosts' certificate format (2: container subnets travel as v2 unsafeNetworks), default 1.
   */
  static create(options: { namePrefix?: string; enroll?: boolean; certVersion?: 1 | 2 } = {}): DockerLab {
    return new DockerLab(options.namePrefix ?? 'mdk', options.enroll === true, options.certVersion ?? 1);
  }

  /** Adds a host namespace on the underlay and signs its certificate (Docker hosts get a container subnet). */
  async addHost(name: string, options: DockerLabHostOptions): Promise<DockerHost> {
    const ns = await this.hostNamespace(name, 6);
    const i = this.hosts.size;
    const dev = await this.plug(ns);
    const underlayIp = `${UNDERLAY_NET}.${10 + i}`;
    await this.lab.address(ns, dev, `${underlayIp}/24`);
    const host: DockerHost = {
      name,
      kind: options.kind,
      ns,
      underlayIp,
      vpnIp: `${OVERLAY_NET}.${1 + i}`,
      groups: options.groups ?? [],
      inbound: options.inbound ?? ALLOW_ALL,
      unsafeRoutes: options.unsafeRoutes ?? [],
      dockerBridge: options.kind === 'docker' && options.dockerBridge !== false,
      ...this.nodeFiles(name),
    };
    this.hosts.set(name, host);
    if (options.subnet) {
      host.subnet = options.subnet;
      host.gateway = options.subnet.replace(/\.0\/\d+$/, '.1');
    }
    const out = this.enroll && host.kind === 'docker' ? await this.joinHost(host) : await this.certify(host);
    if (host.kind === 'docker' && !host.subnet) {
      const m = /subnet (\d+\.\d+\.\d+)\.0\/24/.exec(out);
      if (!m) throw new Error(`${this.enroll ? 'mesh join' : 'mesh ca sign --subnets auto'} did not say which subnet it gave ${host.name}: ${out}`);
      host.subnet = `${m[1]}.0/24`;
      host.gateway = `${m[1]}.1`;
    }
    return host;
  }

  protected override certRequest(host: DockerHost): { ipCidr: string; options: SignOptions } {
    return { ipCidr: `${host.vpnIp}/16`, options: { groups: host.groups, ...(host.kind === 'docker' ? { subnets: host.subnet ?? 'auto' } : {}) } };
  }

  /**
   * Enrollment mode: starts `mesh ca serve` beside the lighthouse (once), then joins `host` from its
   * namespace with a one-use token; returns what `mesh join` printed.
   */
  private async joinHost(host: DockerHost): Promise<string> {
    const lh = [...this.hosts.values()].find((h) => h.kind === 'lighthouse');
    if (!lh) throw new Error('enrollment mode: add the lighthouse first (the enrollment service runs beside it)');
    if (!this.service) {
      const template = this.configFor({ ...host, kind: 'docker', inbound: ALLOW_ALL, unsafeRoutes: [] });
      delete template.pki;
      const templatePath = join(this.dir, 'template.yml');
      writeFileSync(templatePath, stringifyYaml(template));
      this.service = { ...lh, name: 'ca', ...this.nodeFiles('ca') };
      const args = ['ca', 'serve', '--ca-crt', this.ca.crt, '--ca-key', this.ca.key, '--listen', `0.0.0.0:${SERVICE_PORT}`, '--advertise', `${lh.underlayIp}:${SERVICE_PORT}`, '--template', templatePath];
      await this.launch(this.service, [process.execPath, [MESH_BIN, ...args]], /enrollment service running/, { timeoutMs: 30_000 });
      this.say(`started \`mesh ca serve\` beside the lighthouse (${lh.underlayIp}:${SERVICE_PORT})`);
    }
    const groups = host.groups.length > 0 ? ['--groups', host.groups.join(',')] : [];
    const token = (await this.lab.execOk(lh.ns, process.execPath, [MESH_BIN, 'ca', 'token', 'create', '--ca-key', this.ca.key, '--uses', '1', '--ttl', '10m', '--subnet', 'auto', '--name', host.name, ...groups])).trim();
    const dir = join(this.dir, host.name);
    const out = await this.lab.execOk(host.ns, process.execPath, [MESH_BIN, 'join', token, '--dir', dir, '--docker-bridge', NETWORK]);
    const ip = /joined as "[^"]+": (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
    if (!ip) throw new Error(`mesh join did not say which IP ${host.name} got: ${out}`);
    host.vpnIp = ip;
    host.certPath = join(dir, 'host.crt');
    host.keyPath = join(dir, 'host.key');
    host.joinedConfig = join(dir, 'config.yml');
    this.say(`"${host.name}" joined with \`mesh join\` (token from \`mesh ca token create --subnet auto\`): ${out.split('\n')[0]}`);
    return out;
  }

  /** The config `mesh join` wrote, with the lab's TUN name and the host's unsafe_routes. */
  private joinedConfigFor(host: DockerHost): Record<string, unknown> {
    const config = parseYaml(readFileSync(host.joinedConfig!, 'utf8')) as Record<string, unknown> & { tun?: Record<string, unknown> };
    config.tun = { ...config.tun, dev: host.tunDev, unsafe_routes: host.unsafeRoutes };
    return config;
  }

  /** The host's Nebula 1.6 config (what start() writes and runs). */
  configFor(host: DockerHost): Record<string, unknown> {
    const lighthouses = [...this.hosts.values()].filter((h) => h.kind === 'lighthouse');
    const amLighthouse = host.kind === 'lighthouse';
    return this.nodeConfig(host, {
      listen: { host: '0.0.0.0', port: LISTEN_PORT },
      staticHostMap: Object.fromEntries(lighthouses.filter((l) => l !== host).map((l) => [l.vpnIp, [`${l.underlayIp}:${LISTEN_PORT}`]])),
      lighthouses: amLighthouse ? [] : lighthouses.map((l) => l.vpnIp),
      amLighthouse,
      tun: { disabled: amLighthouse, dev: host.tunDev, mtu: 1300, unsafe_routes: host.unsafeRoutes },
      inbound: host.inbound,
      outbound: ALLOW_ALL,
      logLevel: 'info',
    });
  }

  /** Starts the host's node (mesh, with --docker-bridge on Docker hosts, or nebula) and waits until it runs. */
  async start(name: string, timeoutMs = 20_000): Promise<void> {
    const host = this.host(name);
    this.writeConfig(host, host.joinedConfig ? this.joinedConfigFor(host) : this.configFor(host));
    const impl = host.kind === 'nebula' ? 'nebula' : 'mesh';
    const [cmd, args] = nodeCommand(impl, host.configPath);
    const env = host.dockerd ? { ...process.env, DOCKER_HOST: `unix://${host.dockerd.socket}` } : undefined;
    if (host.dockerBridge) await this.launch(host, [cmd, [...args, '--docker-bridge', NETWORK]], /docker: bridge shim running/, { timeoutMs, env });
    else await this.launch(host, [cmd, args], READY[impl], { timeoutMs, env });
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
    await this.lab.sysctl(host.ns, 'net.ipv4.ip_forward', 1);
    const daemon = [
      'exec dockerd --storage-driver=overlay2',
      `--data-root ${d.dataRoot} --exec-root ${d.execRoot} --pidfile ${d.pidfile}`,
      `-H unix://${d.socket} --dns ${host.gateway}`,
    ].join(' ');
    // containerd writes its goroutines to $TMPDIR on SIGUSR1, which dockerd sends one it finds
    // unresponsive before killing it: into the lab's directory, not /tmp.
    const tmp = join(this.dir, `${name}.tmp`);
    mkdirSync(tmp, { recursive: true });
    const fd = openSync(d.logPath, 'a');
    let proc: ChildProcess;
    try {
      // nsenter and unshare exec in place: the child's PID is dockerd's.
      proc = spawn('nsenter', [`--net=/run/netns/${host.ns}`, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', daemon], { stdio: ['ignore', fd, fd], env: { ...process.env, TMPDIR: tmp } });
    } finally {
      closeSync(fd);
    }
    host.dockerd = { ...d, proc };
    await pollUntil(
      async () => {
        if ((await this.docker(name, ['version'], 5000)).code === 0) return true;
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name}: dockerd exited during start:\n${tailFile(d.logPath, 30)}`);
        return false;
      },
      timeoutMs,
      () => `${name}: dockerd did not answer within ${timeoutMs} ms:\n${tailFile(d.logPath, 30)}`,
      200,
    );
    if ((await this.docker(name, ['image', 'inspect', IMAGE])).code !== 0) {
      await this.dockerOk(name, ['import', '--change', 'CMD ["/bin/sh"]', this.buildImageTar(), IMAGE], 60_000);
    }
  }

  /**
   * Stops the host's dockerd: SIGTERM to its PID, then waits (SIGKILL after `timeoutMs`); then stops
   * what still names its exec root (shims it did not reap). Containers stay unless `removeContainers`
   * (busybox as PID 1 ignores SIGTERM; containers run with --init stop at once).
   */
  async stopDockerd(name: string, options: { removeContainers: boolean }, timeoutMs = 30_000): Promise<void> {
    const d = this.host(name).dockerd;
    if (!d) return;
    if (d.proc.exitCode === null && d.proc.signalCode === null) {
      if (options.removeContainers) {
        const ids = (await this.docker(name, ['ps', '-aq'])).stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await this.docker(name, ['rm', '-f', ...ids], 30_000);
      }
      await terminate(d.proc, 'SIGTERM', timeoutMs);
    }
    stopPids(pidsNaming(d.execRoot), LEFTOVER_GRACE_MS);
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

  /**
   * Runs a detached busybox container on the `cluster` network, restarted with dockerd; `runOptions`
   * go to `docker run` (--network-alias, --label, --health-cmd, ...).
   */
  async runContainer(name: string, container: string, ip: string, command: string[], runOptions: string[] = []): Promise<void> {
    await this.dockerOk(name, ['run', '-d', '--init', '--pull', 'never', '--restart', 'always', '--name', container, '--hostname', container, '--network', NETWORK, '--ip', ip, ...runOptions, IMAGE, ...command]);
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

  /** Log tails of every started node and every dockerd. */
  override allLogTails(lines = 30): string {
    const dockerds = [...this.hosts.values()].filter((h) => h.dockerd).map((h) => `--- dockerd ${h.name} ${h.dockerd!.logPath}:\n${tailFile(h.dockerd!.logPath, lines)}`);
    const service = this.service?.proc ? [`--- mesh ca serve ${this.service.logPath}:\n${tailFile(this.service.logPath, lines)}`] : [];
    return [super.allLogTails(lines), ...dockerds, ...service].filter(Boolean).join('\n');
  }

  /**
   * Imports `tag` on the host's dockerd: a base image with this machine's node (and the libraries
   * it links), its npm, and busybox as /bin/sh and the tools a Dockerfile's RUN uses. It stands in
   * for the official Node image, as no registry is reachable.
   */
  async importNodeBase(name: string, tag: string): Promise<void> {
    const root = join(this.dir, 'node-rootfs');
    for (const d of ['bin', 'usr/bin', 'usr/lib/node_modules', 'etc', 'root', 'proc', 'sys', 'dev']) mkdirSync(join(root, d), { recursive: true });
    mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
    execFileSync('chmod', ['1777', join(root, 'tmp')]);
    copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
    execFileSync('chmod', ['755', join(root, 'bin', 'busybox')]);
    for (const applet of [...APPLETS, 'tar', 'gzip', 'mkdir', 'mv', 'cp', 'ln', 'chmod', 'rm']) if (!existsSync(join(root, 'bin', applet))) symlinkSync('busybox', join(root, 'bin', applet));
    symlinkSync('/bin/busybox', join(root, 'usr', 'bin', 'env'));
    copyFileSync(process.execPath, join(root, 'usr', 'bin', 'node'));
    execFileSync('chmod', ['755', join(root, 'usr', 'bin', 'node')]);
    const libraries = execFileSync('ldd', [process.execPath], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
    for (const lib of libraries) {
      mkdirSync(join(root, lib, '..'), { recursive: true });
      copyFileSync(lib, join(root, lib));
    }
    // npm's own directory, next to node as in the official image.
    const npmCli = execFileSync('readlink', ['-f', execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim()], { encoding: 'utf8' }).trim();
    execFileSync('cp', ['-R', join(npmCli, '..', '..'), join(root, 'usr', 'lib', 'node_modules', 'npm')]);
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr', 'bin', 'npm'));
    writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\n');
    const tar = join(this.dir, 'node-base.tar');
    execFileSync('tar', ['-C', root, '-cf', tar, '.']);
    rmSync(root, { recursive: true, force: true });
    await this.dockerOk(name, ['import', '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--change', 'CMD ["node"]', tar, tag], 120_000);
    rmSync(tar, { force: true });
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

  /** Before the shared cleanup: removes the containers, stops the dockerds and deletes their directories. */
  protected override async cleanupExtras(): Promise<void> {
    for (const h of this.hosts.values()) {
      if (!h.dockerd) continue;
      await this.stopDockerd(h.name, { removeContainers: true }).catch(() => {});
      removeDockerDirs(h.dockerd);
    }
  }

  /** The same on process exit, synchronously and best effort (dockerd must stop while its namespace exists). */
  protected override cleanupExtrasSync(): void {
    for (const h of this.hosts.values()) {
      const d = h.dockerd;
      if (!d) continue;
      if (d.proc.exitCode === null && d.proc.signalCode === null && d.proc.pid !== undefined) {
        try {
          const ids = execFileSync('docker', ['-H', `unix://${d.socket}`, 'ps', '-aq'], { encoding: 'utf8', timeout: 10_000 }).split('\n').filter(Boolean);
          if (ids.length > 0) execFileSync('docker', ['-H', `unix://${d.socket}`, 'rm', '-f', ...ids], { stdio: 'ignore', timeout: 30_000 });
        } catch {
          // best effort: dockerd is stopped below either way
        }
        stopPids([d.proc.pid], 10_000);
      }
      stopPids(pidsNaming(d.execRoot), LEFTOVER_GRACE_MS);
      removeDockerDirs(d);
    }
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

/**
 * Whether `pid` runs. A zombie counts as gone: it is dead, and a child of ours stays one until the
 * event loop reaps it, which never happens during the synchronous cleanup on exit.
 */
function isAlive(pid: number): boolean {
  try {
    return !/^[ZX]/.test(statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[0] ?? 'X');
  } catch {
    return false;
  }
}

/** /proc/PID/stat from the state on ("state ppid ..."): comm may hold spaces and parentheses. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** How long leftovers of a stopped dockerd get after SIGTERM before SIGKILL. */
const LEFTOVER_GRACE_MS = 2000;

/**
 * The PIDs of the processes with an argument that is `path`, under it, or an option set to it
 * ("--x=path/..."), with their descendants (a shim's container). Our dockerd's exec root carries
 * the lab's unique id, so only what that dockerd started can match.
 */
function pidsNaming(path: string): number[] {
  const names = (arg: string): boolean => [arg, arg.slice(arg.indexOf('=') + 1)].some((a) => a === path || a.startsWith(`${path}/`));
  const children = new Map<number, number[]>();
  const matched: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some(names)) matched.push(pid);
      const ppid = Number(statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // exited while we read
    }
  }
  const all = new Set<number>();
  const add = (pid: number): void => {
    if (all.has(pid)) return;
    all.add(pid);
    for (const child of children.get(pid) ?? []) add(child);
  };
  matched.forEach(add);
  return [...all];
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/**
 * SIGTERM to `pids`, SIGKILL to those alive after `graceMs`. Synchronous, for the cleanup on process
 * exit too; the wait only blocks when something is left to stop.
 */
function stopPids(pids: readonly number[], graceMs: number): void {
  if (pids.length === 0) return;
  signal(pids, 'SIGTERM');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < graceMs && pids.some(isAlive); waited += 50) Atomics.wait(pause, 0, 0, 50);
  signal(pids.filter(isAlive), 'SIGKILL');
}
