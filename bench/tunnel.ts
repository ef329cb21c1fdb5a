/**
 * Tunnel benchmark: mesh vs. nebula 1.6.1 in the same throw-away namespace setup.
 *
 *   npm run bench -- [--cipher aes|chachapoly|both] [--buffer BYTES] [--time 10] [--pings 50]
 *                    [--interval 0.02] [--only mesh|nebula] [--udp-rates KPPS,...|none]
 *                    [--udp-socket-buffer BYTES|none] [--no-offload] [--no-fast-path] [--no-io-uring]
 *                    [--first-ping N] [--lighthouse] [--baseline BIN] [--json FILE]
 *
 * Topology (all names carry a random id; nothing is added to the root namespace):
 *
 *   mt<id>sw : bridge (its own namespace)
 *   mt<id>h1 : veth 172.31.88.1/24, overlay 10.88.0.1/16 (tun mb0), ping + iperf3 client
 *   mt<id>h2 : veth 172.31.88.2/24, overlay 10.88.0.2/16 (tun mb0), iperf3 server
 *   mt<id>lh : veth 172.31.88.3/24, overlay 10.88.0.3/16 (tun mb0), the lighthouse (--lighthouse only)
 *
 * For each implementation (and cipher), with the same Nebula config (static_host_map both ways,
 * no lighthouse, allow-all firewall, tun MTU 1300, tx_queue 500):
 *  - h1's daemon is started and its tun waited for; then h2's daemon is started at T0 and, as soon as
 *    `ip monitor` reports its tun's route, h2 pings h1 every 10 ms (`ping -c 1 -w 15 -i 0.01`) until the
 *    first reply: time-to-first-ping = reply - T0 (including h2's own start-up and tun creation);
 *    `--first-ping N` measures this alone, N rounds of a fresh pair per implementation and cipher,
 *    each followed by the RTT pings below, so that both implementations' RTTs come from the same minutes;
 *    `--lighthouse`: h1 and h2 know only a lighthouse of the same implementation (static_host_map and
 *    lighthouse.hosts), started before h1; h1 is up once it has pinged the lighthouse over the overlay
 *    (its HostUpdateNotification, sent at start, reached it first), and h2's first ping then takes its
 *    own start, a query to the lighthouse and the handshake with h1 (issue 8: no regression there);
 *    `--baseline BIN` (with --first-ping) adds a third row: another mesh build's CLI, e.g. the last
 *    commit before the data-plane work, run by the same rounds;
 *  - RTT: `ping -c N -i INTERVAL` h1 → h2 over the tunnel (avg / p50 / max);
 *  - TCP: `iperf3 -t T -c h2` h1 → h2 over the tunnel, 1 stream and 4 (`-P 4`); UDP: 1200-byte datagrams
 *    as fast as iperf3 sends them (`-u -b 0 -l 1200`), the rate that arrives; then the same at each
 *    offered rate of a sweep (`--udp-rates`, `-b` paced): the peak delivered rate is the highest of all.
 *    On a small machine the unpaced sender and both daemons compete for the same cores, so the
 *    unpaced figure is partly the scheduler's; the sweep finds the rate the tunnel actually carries.
 *    Both UDP measurements run twice: with iperf3's default socket buffers (208 KiB here: about 1 ms
 *    of datagrams at 90k/s, so a receiving iperf3 that waits a millisecond for a core drops what
 *    arrives meanwhile) and with `-w` 4 MiB on both iperf3 sockets (`--udp-socket-buffer`), which
 *    measures the tunnel rather than how often the receiving iperf3 gets a core. Every UDP run also
 *    says where its lost datagrams were dropped (h1's TUN queue, h2's daemon socket, the receiving
 *    iperf3's socket, elsewhere) and what each daemon's CPU came to per delivered datagram
 *    (bench/udp-accounting.ts); the table gives that CPU at the highest step both carried;
 *  - memory: VmRSS of both daemons right after the pings and when idle (IDLE_WAIT_MS later, with no
 *    traffic in between), the max sampled every 0.5 s during iperf3, plus VmHWM at the end.
 * Needs root. Only PIDs started here are signalled; namespaces are removed on exit and on SIGINT.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringifyYaml } from '../src/yaml.js';
import { MESH_BIN as meshBin, nodeCommand, type Impl } from '../src/lab/binaries.js';
import { nebulaConfig } from '../src/lab/configs.js';
import { NetnsLab, netnsSkipReason, run, terminate } from '../src/lab/netns.js';
import type { Cipher } from '../src/lab/overlay.js';
import { makeCA, makeHost, type TestHost } from '../src/lab/pki.js';
import { pollUntil, sleep } from '../src/lab/wait.js';
import { account, readCounters, type UdpAccount } from './udp-accounting.js';

/**
 * How long the tunnel carries nothing before idle RSS is read: what a node holds once its start-up and
 * first traffic are behind it (both implementations may hand memory back when quiet).
 */
const IDLE_WAIT_MS = 3000;

/** Time given an `ip monitor` to subscribe before the daemon whose tun it watches is started (not measured). */
const MONITOR_READY_MS = 100;
/** When waiting for a tun falls back to polling `ip route` as well (a start here takes well under this). */
const FALLBACK_POLL_MS = 1000;

/**
 * Both daemons run with the environment a service gets from systemd (the unit in examples/systemd
 * sets none): the PATH only. The caller's shell may carry more: this machine's sets
 * NODE_EXTRA_CA_CERTS, which makes every node process parse ~140 CA certificates at start
 * (+1.8 MiB resident, ~40 ms), costs a daemon started by a unit never pays.
 */
const SERVICE_ENV = { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

interface Options {
  ciphers: Cipher[];
  buffer: number | null;
  time: number;
  pings: number;
  interval: number;
  only: Impl[];
  json: string | null;
  /** false (--no-offload): mesh runs with tun.offload and listen.offload off. */
  offload: boolean;
  /** false (--no-fast-path): mesh runs with tun.fast_path off (every packet through JS). */
  fastPath: boolean;
  /** false (--no-io-uring): mesh runs with tun.io_uring off (one read(2) per packet from the TUN). */
  ioUring: boolean;
  /** Offered UDP rates (datagrams/s) of the paced sweep after the unpaced run; empty: none. */
  udpRates: number[];
  /** iperf3's socket buffers (-w) for the second round of UDP runs; null: that round is skipped. */
  udpSocketBuffer: number | null;
  /** --first-ping N: only the time to first ping, N times per implementation and cipher, interleaved; 0: the full run. */
  firstPingRounds: number;
  /** --lighthouse: h1 and h2 find each other through a lighthouse instead of static_host_map. */
  lighthouse: boolean;
  /** --baseline BIN: another mesh CLI measured beside mesh and nebula in --first-ping rounds. */
  baseline: string | null;
}

/** What a round runs: an implementation, or `baseline`, the mesh CLI given by --baseline. */
type Variant = Impl | 'baseline';

/** The default sweep: 30k to 120k datagrams/s, around both implementations' rates on a 2-core box. */
const DEFAULT_UDP_RATES = [30_000, 45_000, 60_000, 75_000, 90_000, 105_000, 120_000];
/** Seconds per offered rate of the sweep (at most --time). */
const UDP_STEP_SECONDS = 4;
/** The socket buffers of the second round of UDP runs: 4 MiB, what QUIC stacks and media servers ask for. */
const DEFAULT_UDP_SOCKET_BUFFER = 4 << 20;

/** Without a message (--help): the usage on stdout, exit 0; with one: both on stderr, exit 2. */
function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench: ${msg}\n`);
  (msg ? process.stderr : process.stdout).write(
    'usage: npm run bench -- [--cipher aes|chachapoly|both] [--buffer BYTES] [--time SECONDS] [--pings N] [--interval SECONDS] [--only mesh|nebula] [--udp-rates KPPS,...|none] [--udp-socket-buffer BYTES|none] [--no-offload] [--no-fast-path] [--no-io-uring] [--first-ping N] [--lighthouse] [--baseline BIN] [--json FILE]\n',
  );
  process.exit(msg ? 2 : 0);
}

/** The options that take a positive number, and where it goes. */
const NUMERIC_OPTIONS: Record<string, (o: Options, n: number) => void> = {
  '--buffer': (o, n) => (o.buffer = Math.round(n)),
  '--time': (o, n) => (o.time = n),
  '--pings': (o, n) => (o.pings = Math.round(n)),
  '--interval': (o, n) => (o.interval = n),
  '--first-ping': (o, n) => (o.firstPingRounds = Math.round(n)),
};

function parseArgs(argv: string[]): Options {
  const o: Options = { ciphers: ['aes'], buffer: null, time: 10, pings: 50, interval: 0.02, only: ['mesh', 'nebula'], json: null, offload: true, fastPath: true, ioUring: true, udpRates: DEFAULT_UDP_RATES, udpSocketBuffer: DEFAULT_UDP_SOCKET_BUFFER, firstPingRounds: 0, lighthouse: false, baseline: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const num = (v: string): number => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) usage(`${a}: not a positive number: ${v}`);
      return n;
    };
    const numeric = NUMERIC_OPTIONS[a];
    if (numeric) {
      numeric(o, num(next()));
      continue;
    }
    switch (a) {
      case '--cipher': {
        const v = next();
        if (v === 'both') o.ciphers = ['aes', 'chachapoly'];
        else if (v === 'aes' || v === 'chachapoly') o.ciphers = [v];
        else usage(`--cipher: aes, chachapoly or both, not ${v}`);
        break;
      }
      case '--only': {
        const v = next();
        if (v !== 'mesh' && v !== 'nebula') usage(`--only: mesh or nebula, not ${v}`);
        o.only = [v];
        break;
      }
      case '--json':
        o.json = next();
        break;
      case '--udp-rates': {
        const v = next();
        o.udpRates = v === 'none' ? [] : v.split(',').map((k) => Math.round(num(k) * 1000));
        break;
      }
      case '--udp-socket-buffer': {
        const v = next();
        o.udpSocketBuffer = v === 'none' ? null : Math.round(num(v));
        break;
      }
      case '--no-fast-path':
        o.fastPath = false;
        break;
      case '--no-io-uring':
        o.ioUring = false;
        break;
      case '--no-offload':
        o.offload = false;
        break;
      case '--lighthouse':
        o.lighthouse = true;
        break;
      case '--baseline':
        o.baseline = next();
        break;
      case '-h':
      case '--help':
        usage();
      default:
        usage(`unknown argument ${a}`);
    }
  }
  if (o.baseline !== null && o.firstPingRounds === 0) usage('--baseline needs --first-ping N');
  if (o.baseline !== null && !existsSync(o.baseline)) usage(`--baseline: ${o.baseline} does not exist`);
  return o;
}

const TUN = 'mb0';
const PORT = 4242;
const UNDER = { h1: '172.31.88.1', h2: '172.31.88.2', lh: '172.31.88.3' };
const OVER = { h1: '10.88.0.1', h2: '10.88.0.2', lh: '10.88.0.3' };
type Host = keyof typeof OVER;

interface Result {
  impl: Impl;
  cipher: Cipher;
  tcpMbps: number;
  tcpRetransmits: number | null;
  /** TCP with 4 parallel streams. */
  tcp4Mbps: number;
  /** UDP, 1200-byte datagrams sent as fast as iperf3 can: datagrams per second that arrived. */
  udpDeliveredPps: number;
  /** The paced sweep: datagrams per second offered and arrived, per offered rate. */
  udpSweep: UdpSweepPoint[];
  /** The highest delivered rate, unpaced or at any offered rate of the sweep. */
  udpPeakPps: number;
  /** Where the unpaced run's datagrams were lost, and the daemons' CPU per delivered datagram. */
  udpAccount: UdpAccount;
  /** The same with iperf3's sockets at `socketBuffer` bytes (--udp-socket-buffer). */
  udpBuffered?: UdpRuns & { socketBuffer: number };
  rttAvg: number;
  rttP50: number;
  rttMax: number;
  rttLoss: number;
  ttfpMs: number;
  rssAfterPings: [number, number];
  rssIdle: [number, number];
  rssIperfMax: [number, number];
  hwm: [number, number];
  /** mesh: the kernel offloads each node logged at start (tun.offload, listen.offload). */
  offloads?: [NodeOffloads, NodeOffloads];
}

interface UdpSweepPoint {
  offeredPps: number;
  deliveredPps: number;
  account: UdpAccount;
}

/** One round of UDP runs: the unpaced one, the sweep, the peak of all. */
interface UdpRuns {
  deliveredPps: number;
  account: UdpAccount;
  sweep: UdpSweepPoint[];
  peakPps: number;
}

/** What the benchmark reads of iperf3 -J: TCP sums, or UDP's sum (receiver's packet counts). */
interface IperfResult {
  error?: string;
  end: {
    sum_received?: { bits_per_second: number };
    sum_sent?: { retransmits?: number };
    sum?: { seconds?: number; packets?: number; lost_packets?: number };
  };
}

/** The UDP test's datagram size (issue 8's figure). */
const UDP_DATAGRAM = 1200;

interface NodeOffloads {
  tun: string;
  udp: string;
  /** How the TUN is read: io_uring or read (tun.io_uring). */
  tunReads: string;
}

function offloadsOf(log: string): NodeOffloads {
  const logged = (key: string): string => new RegExp(`${key}[=:]\\s*"?([\\w,]+)`).exec(log)?.[1] ?? 'unknown';
  return { tun: logged('tunOffloads'), udp: logged('udpOffloads'), tunReads: logged('tunReads') };
}

function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Who `h` knows at start: the other host, or with --lighthouse only the lighthouse (which knows nobody). */
function discovery(h: Host, viaLighthouse: boolean): { staticHostMap: Record<string, string[]>; lighthouses: string[]; amLighthouse: boolean } {
  const known = (k: Host) => ({ [OVER[k]]: [`${UNDER[k]}:${PORT}`] });
  if (!viaLighthouse) return { staticHostMap: known(h === 'h1' ? 'h2' : 'h1'), lighthouses: [], amLighthouse: false };
  if (h === 'lh') return { staticHostMap: {}, lighthouses: [], amLighthouse: true };
  return { staticHostMap: known('lh'), lighthouses: [OVER.lh], amLighthouse: false };
}

function configYaml(host: TestHost, h: Host, cipher: Cipher, buffer: number | null, opts: Pick<Options, 'offload' | 'fastPath' | 'ioUring' | 'lighthouse'>, controlSocket: string): string {
  const raw = nebulaConfig({
    ca: host.ca,
    cert: host.certPem,
    key: host.keyPem,
    listen: { host: '0.0.0.0', port: PORT },
    ...discovery(h, opts.lighthouse),
    cipher,
    logLevel: 'info',
  });
  // offload is a mesh key; nebula ignores it.
  const offloadOff = opts.offload ? {} : { offload: false };
  raw.listen = { host: '0.0.0.0', port: PORT, ...(buffer ? { read_buffer: buffer, write_buffer: buffer } : {}), ...offloadOff };
  raw.tun = { disabled: false, dev: TUN, drop_local_broadcast: false, drop_multicast: false, tx_queue: 500, mtu: 1300, routes: [], unsafe_routes: [], ...offloadOff, ...(opts.fastPath ? {} : { fast_path: false }), ...(opts.ioUring ? {} : { io_uring: false }) };
  // Both nodes name their TUN the same (in their own namespaces) but share /run: one socket each (nebula ignores the key).
  raw.control = { socket: controlSocket };
  return stringifyYaml(raw);
}

/** Milliseconds from starting h2's daemon to its tun's route, and to the first reply over the tunnel. */
interface FirstPing {
  tunUpMs: number;
  ttfpMs: number;
  /** The round trip of the echo that got the first reply (ping's `time=`): the first handshake, when the node held that echo for it. */
  firstRttMs: number;
  /** Its icmp_seq: 1 when the first echo sent was held through the handshake, more when echoes were dropped. */
  firstSeq: number;
  /** `--first-ping` rounds: the RTTs of `--pings` pings h1 → h2 right after the first reply, sorted. */
  rtts: number[];
}

/** A daemon the benchmark started: its process and what it has logged so far. */
interface Daemon {
  child: ChildProcess;
  pid: number;
  log: () => string;
}

/** The daemons of one measurement by host, as far as they were started (lh: --lighthouse only). */
type Pair = Record<Host, Daemon | null>;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

class Bench {
  private readonly dir = mkdtempSync(join(tmpdir(), 'mesh-bench-'));
  private readonly ca = makeCA('bench CA');
  private readonly hosts = { h1: makeHost(this.ca, 'bench-h1', `${OVER.h1}/16`), h2: makeHost(this.ca, 'bench-h2', `${OVER.h2}/16`), lh: makeHost(this.ca, 'bench-lh', `${OVER.lh}/16`) };
  ns = { sw: '', h1: '', h2: '', lh: '' };

  constructor(
    readonly lab: NetnsLab,
    readonly opts: Options,
  ) {}

  removeDir(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  async setup(): Promise<void> {
    const lab = this.lab;
    this.ns.sw = await lab.namespace('sw');
    this.ns.h1 = await lab.namespace('h1');
    this.ns.h2 = await lab.namespace('h2');
    if (this.opts.lighthouse) this.ns.lh = await lab.namespace('lh');
    const br = await lab.bridge(this.ns.sw);
    for (const h of this.opts.lighthouse ? (['h1', 'h2', 'lh'] as const) : (['h1', 'h2'] as const)) {
      const v = await lab.veth(this.ns[h], this.ns.sw);
      await lab.attach(this.ns.sw, br, v.b);
      await lab.address(this.ns[h], v.a, `${UNDER[h]}/24`);
    }
    // Underlay reachable before anything else is measured.
    await lab.execOk(this.ns.h1, 'ping', ['-n', '-c', '1', '-w', '5', UNDER.h2]);
  }

  private startDaemon(variant: Variant, h: Host, cipher: Cipher): Daemon {
    const file = join(this.dir, `${variant}-${cipher}-${h}.yml`);
    writeFileSync(file, configYaml(this.hosts[h], h, cipher, this.opts.buffer, this.opts, join(this.dir, `${h}.sock`)), { mode: 0o600 });
    const command = variant === 'baseline' ? nodeCommand('mesh', file, 'node', this.opts.baseline!) : nodeCommand(variant, file);
    const child = this.lab.spawn(this.ns[h], ...command, { env: SERVICE_ENV });
    let log = '';
    const keep = (d: Buffer) => {
      log += d.toString();
      if (log.length > 200_000) log = log.slice(-100_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return { child, pid: child.pid!, log: () => log };
  }

  /**
   * Starts watching h's routes; `up` resolves once its tun has the overlay route. `ip monitor` reports
   * the route as the kernel adds it, without a poll's delay or a poll's spawns competing with the
   * starting daemon for the two cores. A poll that begins after FALLBACK_POLL_MS (later than any
   * start here) covers a monitor that subscribed too late, and notices a daemon that exited.
   * Started before the daemon (and given `MONITOR_READY_MS` to subscribe), closed once the tun is up.
   */
  private watchTun(h: Host, daemon: () => { child: { exitCode: number | null }; log: () => string } | null): { up: Promise<void>; close: () => void } {
    const monitor = spawn('ip', ['-n', this.ns[h], '-4', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let closed = false;
    const close = () => {
      closed = true;
      if (monitor.exitCode === null) monitor.kill();
    };
    const seen = new Promise<void>((resolve) => {
      let lines = '';
      monitor.stdout!.on('data', (d: Buffer) => {
        lines += d.toString();
        // The overlay's prefix route (main table), which comes with the link up; not the local route of
        // the address, which the kernel adds a few milliseconds before, while the link is still down.
        if (lines.split('\n').some((l) => l.startsWith('10.88.') && l.includes(` dev ${TUN} `))) resolve();
      });
    });
    const polled = sleep(FALLBACK_POLL_MS).then(() =>
      pollUntil(
        async () => {
          if (closed) return true;
          const d = daemon();
          if (d && d.child.exitCode !== null) throw new Error(`daemon in ${h} exited:\n${d.log().slice(-2000)}`);
          const r = await run('ip', ['-n', this.ns[h], '-4', 'route', 'show', 'dev', TUN]);
          return r.code === 0 && r.stdout.includes('10.88.');
        },
        15_000,
        () => `tun of ${h} never came up:\n${daemon()?.log().slice(-2000) ?? ''}`,
        100,
      ),
    );
    const up = Promise.race([seen, polled.then(() => undefined)]);
    up.then(close, close);
    return { up, close };
  }

  private async stopDaemon(d: { child: ChildProcess }): Promise<void> {
    await terminate(d.child, 'SIGTERM', 5000);
  }

  /** One iperf3 run h1 → h2 over the tunnel for `seconds` (default `--time`), against a one-shot server in h2. */
  private async iperf(impl: Impl, args: string[], seconds = this.opts.time): Promise<IperfResult> {
    const { ns } = this;
    const server = this.lab.spawn(ns.h2, 'iperf3', ['-s', '-1', '-p', '5201', '-B', OVER.h2]);
    let serverOut = '';
    server.stdout!.on('data', (d: Buffer) => (serverOut += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (serverOut += d.toString()));
    let run: { code: number | null; stdout: string; stderr: string } | null = null;
    try {
      for (let attempt = 0; attempt < 50; attempt++) {
        run = await this.lab.exec(ns.h1, 'iperf3', ['-J', '-p', '5201', '-t', String(seconds), ...args, '-c', OVER.h2], { timeoutMs: (seconds + 30) * 1000 });
        // iperf3 -J can exit 0 with the connect error in its JSON when the server is not listening yet.
        if (!/unable to connect|Connection refused/i.test(run.stdout + run.stderr)) break;
        await sleep(100);
      }
    } finally {
      await this.stopDaemon({ child: server });
    }
    if (!run || run.code !== 0) throw new Error(`iperf3 ${args.join(' ')} over ${impl} failed: ${run?.stdout.slice(-2000)}${run?.stderr}\nserver: ${serverOut}`);
    const j = JSON.parse(run.stdout) as IperfResult;
    if (j.error) throw new Error(`iperf3 ${args.join(' ')} over ${impl}: ${j.error}\nserver: ${serverOut}`);
    return j;
  }

  /**
   * 1200-byte UDP datagrams h1 → h2 for `seconds`, paced at `offeredPps` (0: unpaced), iperf3's sockets at
   * `socketBuffer` bytes (null: its defaults): datagrams/s that arrived, where the others were lost, and
   * the CPU of the daemons `pids` (h1, h2) per delivered datagram.
   */
  private async udpDelivered(impl: Impl, pids: [number, number], offeredPps: number, seconds: number, socketBuffer: number | null): Promise<{ deliveredPps: number; account: UdpAccount }> {
    const bitsPerSecond = offeredPps * UDP_DATAGRAM * 8; // iperf3 -b counts payload bits; 0 is unlimited
    const window = socketBuffer === null ? [] : ['-w', String(socketBuffer)];
    const before = readCounters(pids, TUN, PORT);
    const sum = (await this.iperf(impl, ['-u', '-b', String(bitsPerSecond), '-l', String(UDP_DATAGRAM), ...window], seconds)).end.sum;
    const after = readCounters(pids, TUN, PORT);
    if (!sum?.seconds) throw new Error(`iperf3 over ${impl}: no UDP result`);
    const sent = sum.packets ?? 0;
    const lost = sum.lost_packets ?? 0;
    return { deliveredPps: (sent - lost) / sum.seconds, account: account(before, after, { sent, lost, seconds: sum.seconds }) };
  }

  /** The unpaced UDP run and the paced sweep, iperf3's sockets at `socketBuffer` bytes (null: its defaults). */
  private async udpRuns(impl: Impl, cipher: Cipher, pids: [number, number], socketBuffer: number | null): Promise<UdpRuns> {
    const { opts } = this;
    const buffers = socketBuffer === null ? 'default socket buffers' : `socket buffers ${mib(socketBuffer)}`;
    process.stderr.write(`bench: ${impl} ${cipher}: UDP ${UDP_DATAGRAM} B unpaced, ${buffers}\n`);
    const unpaced = await this.udpDelivered(impl, pids, 0, opts.time, socketBuffer);
    const sweep: UdpSweepPoint[] = [];
    for (const offeredPps of opts.udpRates) {
      process.stderr.write(`bench: ${impl} ${cipher}: UDP at ${offeredPps / 1000}k datagrams/s, ${buffers}\n`);
      sweep.push({ offeredPps, ...(await this.udpDelivered(impl, pids, offeredPps, Math.min(opts.time, UDP_STEP_SECONDS), socketBuffer)) });
    }
    return { ...unpaced, sweep, peakPps: Math.max(unpaced.deliveredPps, ...sweep.map((p) => p.deliveredPps)) };
  }

  /** Pings `to` from `from` over the overlay every 10 ms until the first reply (at most 15 s): its icmp_seq and RTT. */
  private async pingUntilReply(variant: Variant, from: Host, to: Host, log: () => string): Promise<{ seq: number; rttMs: number }> {
    const first = await this.lab.exec(this.ns[from], 'ping', ['-n', '-i', '0.01', '-c', '1', '-w', '15', OVER[to]], { timeoutMs: 20_000 });
    const reply = /icmp_seq=(\d+) .*time=([\d.]+) ms/.exec(first.stdout);
    if (first.code !== 0 || !reply) throw new Error(`no first ping ${from} → ${to} over ${variant}: ${first.stdout}${first.stderr}\n${from} log:\n${log().slice(-2000)}`);
    return { seq: Number(reply[1]), rttMs: Number(reply[2]) };
  }

  /** Starts the daemon of `h` and waits for its tun. */
  private async startWithTun(variant: Variant, h: Host, cipher: Cipher, pair: Pair): Promise<Daemon> {
    const tun = this.watchTun(h, () => pair[h]);
    try {
      await sleep(MONITOR_READY_MS);
      const d = (pair[h] = this.startDaemon(variant, h, cipher));
      await tun.up;
      return d;
    } finally {
      tun.close();
    }
  }

  /**
   * Starts h1 and waits for its tun (with --lighthouse: the lighthouse first, and h1 is up once it
   * has pinged the lighthouse over the overlay); then starts h2 at T0 and, once h2's tun is up, pings
   * h1 from h2 until the first reply. Returns the milliseconds since T0 to h2's tun and to that reply;
   * the daemons started are left in `pair` for the caller to stop.
   */
  private async firstPing(variant: Variant, cipher: Cipher, pair: Pair): Promise<Omit<FirstPing, 'rtts'>> {
    let tun2: ReturnType<Bench['watchTun']> | null = null;
    try {
      if (this.opts.lighthouse) await this.startWithTun(variant, 'lh', cipher, pair);
      const d1 = await this.startWithTun(variant, 'h1', cipher, pair);
      // h1's update to the lighthouse went out before this echo, through the same tunnel.
      if (this.opts.lighthouse) await this.pingUntilReply(variant, 'h1', 'lh', d1.log);
      tun2 = this.watchTun('h2', () => pair.h2);
      await sleep(MONITOR_READY_MS);
      const t0 = performance.now();
      const d2 = (pair.h2 = this.startDaemon(variant, 'h2', cipher));
      await tun2.up;
      const tunUpMs = performance.now() - t0;
      const reply = await this.pingUntilReply(variant, 'h2', 'h1', d2.log);
      const ttfpMs = performance.now() - t0;
      return { tunUpMs, ttfpMs, firstSeq: reply.seq, firstRttMs: reply.rttMs };
    } finally {
      tun2?.close();
    }
  }

  /** `--pings` pings h1 → h2 over the tunnel at `--interval`: the RTTs that came back, sorted. */
  private async pingSeries(variant: Variant): Promise<number[]> {
    const { ns, opts } = this;
    const ping = await this.lab.exec(ns.h1, 'ping', ['-n', '-c', String(opts.pings), '-i', String(opts.interval), '-W', '2', OVER.h2], { timeoutMs: 60_000 + opts.pings * 2000 });
    const rtts = [...ping.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
    if (rtts.length === 0) throw new Error(`ping h1 → h2 over ${variant} failed: ${ping.stdout}${ping.stderr}`);
    return rtts;
  }

  private async stopPair(pair: Pair): Promise<void> {
    for (const h of ['h2', 'h1', 'lh'] as const) if (pair[h]) await this.stopDaemon(pair[h]);
  }

  /** `--first-ping`: a fresh pair of daemons, the time to first ping, both stopped. */
  async firstPingOnly(variant: Variant, cipher: Cipher): Promise<FirstPing> {
    process.stderr.write(`bench: ${variant} ${cipher}: first ping${this.opts.lighthouse ? ' through a lighthouse' : ''}\n`);
    const pair: Pair = { h1: null, h2: null, lh: null };
    try {
      const first = await this.firstPing(variant, cipher, pair);
      return { ...first, rtts: await this.pingSeries(variant) };
    } finally {
      await this.stopPair(pair);
    }
  }

  async measure(impl: Impl, cipher: Cipher): Promise<Result> {
    const { opts } = this;
    process.stderr.write(`bench: ${impl} ${cipher}: starting h1\n`);
    const pair: Pair = { h1: null, h2: null, lh: null };
    try {
      // Time to first ping: h2 started at T0, pings h1 every 10 ms (once its tun exists) until a reply.
      const { ttfpMs } = await this.firstPing(impl, cipher, pair);
      const d1 = pair.h1!;
      const d2 = pair.h2!;

      process.stderr.write(`bench: ${impl} ${cipher}: ${opts.pings} pings\n`);
      const rtts = await this.pingSeries(impl);
      const rssAfterPings: [number, number] = [procStatusKb(d1.pid, 'VmRSS'), procStatusKb(d2.pid, 'VmRSS')];
      await sleep(IDLE_WAIT_MS);
      const rssIdle: [number, number] = [procStatusKb(d1.pid, 'VmRSS'), procStatusKb(d2.pid, 'VmRSS')];

      process.stderr.write(`bench: ${impl} ${cipher}: iperf3 ${opts.time} s\n`);
      const rssIperfMax: [number, number] = [0, 0];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          rssIperfMax[0] = Math.max(rssIperfMax[0], procStatusKb(d1.pid, 'VmRSS') || 0);
          rssIperfMax[1] = Math.max(rssIperfMax[1], procStatusKb(d2.pid, 'VmRSS') || 0);
          await sleep(500);
        }
      })();
      let j: IperfResult;
      try {
        j = await this.iperf(impl, []);
      } finally {
        sampling = false;
        await sampler;
      }
      if (!j.end.sum_received) throw new Error(`iperf3 over ${impl}: no TCP result`);
      process.stderr.write(`bench: ${impl} ${cipher}: iperf3 4 streams\n`);
      const tcp4 = await this.iperf(impl, ['-P', '4']);
      if (!tcp4.end.sum_received) throw new Error(`iperf3 over ${impl}: no 4-stream result`);
      const pids: [number, number] = [d1.pid, d2.pid];
      const udp = await this.udpRuns(impl, cipher, pids, null);
      const socketBuffer = opts.udpSocketBuffer;
      const buffered = socketBuffer === null ? null : { socketBuffer, ...(await this.udpRuns(impl, cipher, pids, socketBuffer)) };
      const hwm: [number, number] = [procStatusKb(d1.pid, 'VmHWM'), procStatusKb(d2.pid, 'VmHWM')];
      const sum = rtts.reduce((a, b) => a + b, 0);
      return {
        impl,
        cipher,
        tcpMbps: j.end.sum_received.bits_per_second / 1e6,
        tcpRetransmits: j.end.sum_sent?.retransmits ?? null,
        tcp4Mbps: tcp4.end.sum_received.bits_per_second / 1e6,
        udpDeliveredPps: udp.deliveredPps,
        udpSweep: udp.sweep,
        udpPeakPps: udp.peakPps,
        udpAccount: udp.account,
        ...(buffered ? { udpBuffered: buffered } : {}),
        rttAvg: sum / rtts.length,
        rttP50: percentile(rtts, 0.5),
        rttMax: rtts[rtts.length - 1]!,
        rttLoss: opts.pings - rtts.length,
        ttfpMs,
        rssAfterPings,
        rssIdle,
        rssIperfMax,
        hwm,
        ...(impl === 'mesh' ? { offloads: [offloadsOf(d1.log()), offloadsOf(d2.log())] as [NodeOffloads, NodeOffloads] } : {}),
      };
    } finally {
      await this.stopPair(pair);
    }
  }
}

function mib(bytes: number): string {
  return bytes % (1 << 20) === 0 ? `${bytes >> 20} MiB` : `${bytes} B`;
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

function table(results: Result[], opts: Options): string {
  const lines: string[] = [];
  for (const cipher of opts.ciphers) {
    const m = results.find((r) => r.impl === 'mesh' && r.cipher === cipher);
    const n = results.find((r) => r.impl === 'nebula' && r.cipher === cipher);
    lines.push(`cipher: ${cipher}`, '');
    lines.push('| metric | mesh | nebula 1.6.1 | mesh/nebula |', '|---|---:|---:|---:|');
    const row = (name: string, get: (r: Result) => number, digits = 1) => {
      const a = m ? get(m) : NaN;
      const b = n ? get(n) : NaN;
      lines.push(`| ${name} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(2) : 'n/a'} |`);
    };
    row('TCP throughput, 1 stream (Mbit/s)', (r) => r.tcpMbps);
    row('TCP retransmits', (r) => r.tcpRetransmits ?? NaN, 0);
    row('TCP throughput, 4 streams (Mbit/s)', (r) => r.tcp4Mbps);
    row(`UDP ${UDP_DATAGRAM} B, delivered, unpaced (kpps)`, (r) => r.udpDeliveredPps / 1000);
    if (opts.udpRates.length > 0) row(`UDP ${UDP_DATAGRAM} B, peak delivered, unpaced or paced (kpps)`, (r) => r.udpPeakPps / 1000);
    if (opts.udpSocketBuffer !== null) {
      const buffers = `iperf3 socket buffers ${mib(opts.udpSocketBuffer)}`;
      row(`UDP ${UDP_DATAGRAM} B, delivered, unpaced, ${buffers} (kpps)`, (r) => (r.udpBuffered?.deliveredPps ?? NaN) / 1000);
      if (opts.udpRates.length > 0) row(`UDP ${UDP_DATAGRAM} B, peak delivered, unpaced or paced, ${buffers} (kpps)`, (r) => (r.udpBuffered?.peakPps ?? NaN) / 1000);
    }
    // The daemons' cost per datagram where both carried what was offered: the highest step of the sweep
    // that every implementation here delivered (95% or more), so that little of either figure is lost work.
    const carried = opts.udpRates.filter((rate) => [m, n].every((r) => !r || (r.udpSweep.find((p) => p.offeredPps === rate)?.deliveredPps ?? 0) >= 0.95 * rate));
    if (carried.length > 0) {
      const rate = carried[carried.length - 1]!;
      const cpu = (r: Result) => r.udpSweep.find((p) => p.offeredPps === rate)!.account.cpuUsPerDatagram;
      row(`UDP ${UDP_DATAGRAM} B at ${rate / 1000}k offered: daemons' CPU per delivered datagram, h1 + h2 (us)`, (r) => cpu(r)[0] + cpu(r)[1], 2);
    }
    row('ping RTT avg (ms)', (r) => r.rttAvg, 3);
    row('ping RTT p50 (ms)', (r) => r.rttP50, 3);
    row('ping RTT max (ms)', (r) => r.rttMax, 3);
    row('pings lost', (r) => r.rttLoss, 0);
    row('time to first ping (ms)', (r) => r.ttfpMs, 0);
    row('RSS right after the pings h1 (MiB)', (r) => r.rssAfterPings[0] / 1024);
    row('RSS right after the pings h2 (MiB)', (r) => r.rssAfterPings[1] / 1024);
    row(`RSS idle (${IDLE_WAIT_MS / 1000} s without traffic) h1 (MiB)`, (r) => r.rssIdle[0] / 1024);
    row(`RSS idle (${IDLE_WAIT_MS / 1000} s without traffic) h2 (MiB)`, (r) => r.rssIdle[1] / 1024);
    row('RSS max during iperf3 h1 / sender (MiB)', (r) => r.rssIperfMax[0] / 1024);
    row('RSS max during iperf3 h2 / receiver (MiB)', (r) => r.rssIperfMax[1] / 1024);
    row('peak RSS (VmHWM) h1 (MiB)', (r) => r.hwm[0] / 1024);
    row('peak RSS (VmHWM) h2 (MiB)', (r) => r.hwm[1] / 1024);
    lines.push('');
    const sweepText = (sweep: UdpSweepPoint[]) => sweep.map((p) => `${fmt(p.offeredPps / 1000, 0)} -> ${fmt(p.deliveredPps / 1000, 1)}`).join(', ');
    for (const r of [m, n]) {
      if (r && r.udpSweep.length > 0) lines.push(`UDP sweep, ${r.impl}: offered -> delivered kpps: ${sweepText(r.udpSweep)}`);
      if (r?.udpBuffered && r.udpBuffered.sweep.length > 0) lines.push(`UDP sweep, ${r.impl}, iperf3 socket buffers ${mib(r.udpBuffered.socketBuffer)}: offered -> delivered kpps: ${sweepText(r.udpBuffered.sweep)}`);
    }
    for (const r of [m, n]) {
      if (!r) continue;
      lines.push('', ...udpAccountTable(r, 'default', { deliveredPps: r.udpDeliveredPps, account: r.udpAccount, sweep: r.udpSweep }));
      if (r.udpBuffered) lines.push('', ...udpAccountTable(r, mib(r.udpBuffered.socketBuffer), r.udpBuffered));
    }
    if (lines[lines.length - 1] !== '') lines.push('');
  }
  return lines.join('\n');
}

/** Where one round's datagrams were lost (thousands a second) and what the daemons spent per delivered datagram. */
function udpAccountTable(r: Result, buffers: string, runs: Pick<UdpRuns, 'deliveredPps' | 'account' | 'sweep'>): string[] {
  const lines = [
    `UDP ${UDP_DATAGRAM} B over ${r.impl}, iperf3 socket buffers ${buffers}: kpps delivered and lost (at h1's tun queue, h2's daemon socket, the receiving iperf3's socket, elsewhere); daemons' CPU per delivered datagram (us)`,
    '',
    "| offered (kpps) | delivered | lost: h1's tun | h2's daemon | receiving iperf3 | elsewhere | CPU h1 | CPU h2 |",
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const line = (offered: string, deliveredPps: number, a: UdpAccount) =>
    lines.push(`| ${offered} | ${[deliveredPps, a.lostPps.h1Tun, a.lostPps.h2Daemon, a.lostPps.receiver, a.lostPps.elsewhere].map((v) => fmt(v / 1000)).join(' | ')} | ${fmt(a.cpuUsPerDatagram[0], 2)} | ${fmt(a.cpuUsPerDatagram[1], 2)} |`);
  line('unpaced', runs.deliveredPps, runs.account);
  for (const p of runs.sweep) line(fmt(p.offeredPps / 1000, 0), p.deliveredPps, p.account);
  return lines;
}

function machineLine(os: typeof import('node:os')): string {
  const cpus = os.cpus();
  return `machine: ${cpus.length} cores (${cpus[0]?.model ?? '?'}), kernel ${os.release()}, node ${process.version}`;
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

/**
 * `--first-ping N`: the time to first ping and the RTT alone, N rounds; each round measures every
 * implementation and cipher once, in turn, so both see the same minutes of a noisy machine (whose
 * RTT moves by a third from one minute to the next here). Prints medians with min-max and the median
 * of the per-round ratios.
 */
async function firstPingRounds(bench: Bench, opts: Options): Promise<void> {
  const os = await import('node:os');
  const loadBefore = os.loadavg()[0]!;
  const samples = new Map<string, FirstPing[]>();
  const variants: Variant[] = [...opts.only, ...(opts.baseline ? (['baseline'] as const) : [])];
  for (let round = 0; round < opts.firstPingRounds; round++) {
    for (const cipher of opts.ciphers) {
      for (const variant of variants) {
        const key = `${variant} ${cipher}`;
        samples.set(key, [...(samples.get(key) ?? []), await bench.firstPingOnly(variant, cipher)]);
      }
    }
  }
  const spread = (v: number[], digits = 1) => `${fmt(median(v), digits)} (${fmt(Math.min(...v), digits)}-${fmt(Math.max(...v), digits)})`;
  const lines = [
    `date: ${new Date().toISOString()}`,
    `${machineLine(os)}, load average before ${loadBefore.toFixed(2)}, at end ${os.loadavg()[0]!.toFixed(2)}`,
    `${opts.firstPingRounds} rounds${opts.lighthouse ? ', h2 finding h1 through a lighthouse' : ''}${opts.baseline ? `, baseline: ${opts.baseline}` : ''}, median (min-max) in ms: h2's tun up, first reply, that reply's RTT (ping's time=, with its icmp_seq), the p50 RTT of ${opts.pings} pings at ${opts.interval} s after it; mesh/nebula (and mesh/baseline): the medians of the per-round ratios of the first reply and of the p50 RTT`,
    '',
  ];
  for (const cipher of opts.ciphers) {
    const cells: string[] = [];
    for (const variant of variants) {
      const v = samples.get(`${variant} ${cipher}`)!;
      const seqs = [...new Set(v.map((s) => s.firstSeq))].sort((a, b) => a - b).join('/');
      cells.push(`${variant} tun ${spread(v.map((s) => s.tunUpMs))}, reply ${spread(v.map((s) => s.ttfpMs))}, rtt ${spread(v.map((s) => s.firstRttMs))} seq ${seqs}, rtt p50 ${spread(v.map((s) => percentile(s.rtts, 0.5)), 3)}`);
    }
    const m = samples.get(`mesh ${cipher}`);
    for (const other of ['nebula', 'baseline'] as const) {
      const n = samples.get(`${other} ${cipher}`);
      if (m && n) {
        cells.push(`mesh/${other} first reply ${spread(m.map((x, i) => x.ttfpMs / n[i]!.ttfpMs), 2)}, rtt p50 ${spread(m.map((x, i) => percentile(x.rtts, 0.5) / percentile(n[i]!.rtts, 0.5)), 2)}`);
      }
    }
    lines.push(`${cipher}: ${cells.join('; ')}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), kernel: os.release(), loadBefore, opts, firstPing: Object.fromEntries(samples) }, null, 2));
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (network namespaces, veth, TUN devices). Run it as root, e.g. `sudo npm run bench`.\n');
    process.exit(1);
  }
  const reason = netnsSkipReason();
  if (reason) {
    process.stderr.write(`bench: cannot run here: ${reason}\n`);
    process.exit(1);
  }
  for (const tool of ['iperf3', 'ping', ...(opts.only.includes('nebula') ? ['nebula'] : [])]) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      process.stderr.write(`bench: \`${tool}\` is not installed\n`);
      process.exit(1);
    }
  }
  if (opts.only.includes('mesh') && !existsSync(meshBin)) {
    process.stderr.write(`bench: ${meshBin} is missing; build first (npx tsc -p .)\n`);
    process.exit(1);
  }

  const lab = NetnsLab.create();
  const bench = new Bench(lab, opts);
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
    lab.cleanupSync(); // kills only the PIDs the lab started, deletes only its namespaces
    bench.removeDir();
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => bench.removeDir());

  const results: Result[] = [];
  try {
    await bench.setup();
    if (opts.firstPingRounds > 0) return await firstPingRounds(bench, opts);
    for (const cipher of opts.ciphers) {
      for (const impl of opts.only) results.push(await bench.measure(impl, cipher));
    }
  } finally {
    await lab.cleanup();
    bench.removeDir();
  }
  const os = await import('node:os');
  const header = [
    `date: ${new Date().toISOString()}`,
    `${machineLine(os)}, load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    ...results.filter((r) => r.offloads).map((r) => `mesh offloads (${r.cipher}): ${r.offloads!.map((o, i) => `h${i + 1} tun ${o.tun} (reads: ${o.tunReads}), udp ${o.udp}`).join('; ')}`),
    `settings: iperf3 -t ${opts.time} (1 and 4 TCP streams, UDP ${UDP_DATAGRAM} B unpaced${opts.udpRates.length > 0 ? `, then paced at ${opts.udpRates.map((r) => r / 1000).join('/')}k datagrams/s for ${Math.min(opts.time, UDP_STEP_SECONDS)} s each` : ''}${opts.udpSocketBuffer !== null ? `; UDP again with iperf3 socket buffers ${mib(opts.udpSocketBuffer)}` : ''}), ${opts.pings} pings at ${opts.interval} s, socket buffers ${opts.buffer ?? 'default'}, tun MTU 1300${opts.lighthouse ? ', h2 found h1 through a lighthouse' : ''}`,
    '',
  ].join('\n');
  process.stdout.write(`${header}\n${table(results, opts)}`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), kernel: os.release(), opts, results }, null, 2));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
