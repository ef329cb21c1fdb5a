/**
 * Flood benchmark (issue 11 §1): does a mesh node keep serving legitimate traffic while an attacker
 * floods its UDP port?
 *
 *   npm run bench:flood -- [--rates 10000,40000] [--rounds 3] [--seconds 20] [--sources 32 (at most 4094)]
 *                          [--ping-interval 0.1] [--handshake-interval 0.25] [--handshake-timeout 2]
 *                          [--incoming-per-second N] [--json FILE] [--node-args="--cpu-prof --cpu-prof-dir=DIR"] [--keep]
 *
 * Topology (two namespaces with a random id, joined by one veth pair; nothing in the root namespace):
 *
 *   mf<id>t : the target, a `mesh node` (tun, overlay 10.89.0.1/16) on 172.31.89.1:4242
 *   mf<id>o : the outside world on the same link:
 *             172.31.89.2        a legitimate `mesh node` (overlay 10.89.0.2) with an established tunnel
 *             172.31.89.3        a legitimate handshaker: fresh Noise IX handshakes as new peers
 *             172.31.89.16+      the attacker, one UDP socket per address (--sources)
 *             172.31.96.1+       ... or, with more than 200 sources, addresses of 172.31.96.0/20: a
 *                                local route there (any of its addresses can be bound), which the
 *                                target reaches through 172.31.89.2. Past a few hundred sources the
 *                                per-address admission no longer binds: what bounds the certificate
 *                                checks is handshakes.incoming_per_second.
 *
 * Each round, per rate: the attacker (this file, `--role attacker`, sendmmsg through the native addon)
 * sends the hostile mix at the rate for --seconds while `ping -i INTERVAL` runs from the legitimate
 * node to the target over the existing tunnel and the handshaker (`--role handshaker`) starts a fresh
 * handshake every --handshake-interval s with a new certificate (signed by the mesh's CA), resending
 * message 1 on Nebula's schedule (100 ms, linear backoff); it succeeds when a valid message 2 arrives
 * within --handshake-timeout s. The hostile mix, in equal shares:
 *   - malformed: 1 to 15 random bytes (shorter than a header);
 *   - unknown index: data packets (type 1) with random indexes and lengths;
 *   - wrong length: headers of the tunnel's real index with a body too short for an AEAD tag;
 *   - replays: datagrams the legitimate node really sent on the tunnel (captured with tcpdump),
 *     replayed unchanged, and with their counter moved far ahead (a decrypt that fails);
 *   - forged message 1s with a valid-looking certificate (claims the mesh's CA, signature wrong);
 *   - forged message 1s with an invalid certificate (random bytes in the cert field);
 *   - message 1s whose Noise part is garbage.
 * Reported per round: the rate the attacker reached (sent / wall time) and what the target's kernel
 * received (Udp InDatagrams + RcvbufErrors of its namespace), datagrams the kernel dropped for a full
 * receive buffer, pings answered, fresh handshakes succeeded (and their median time), the node's CPU
 * (user+system, % of one core), the log lines it wrote, and the 1-minute load average before and
 * after. Medians over the rounds per rate, with the targets of issue 11. Needs root, iproute2,
 * tcpdump, ping and the native addon (`npm run install`).
 */
import type { ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, randomInt, sign } from 'node:crypto';
import dgram from 'node:dgram';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringifyYaml } from '../src/yaml.js';
import { certificateFingerprint, ed25519Seed, marshalCertificate, marshalDetails, type Certificate, type CertificateDetails } from '../pki/cert.js';
import { ipNetworkFromCidr } from '../src/net/ip.js';
import { controlRequest } from '../src/cli/control-client.js';
import { tryLoadNative } from '../src/io/native.js';
import type { NodeStatus } from '../src/node/status.js';
import { MESH_BIN } from '../src/lab/binaries.js';
import { nebulaConfig } from '../src/lab/configs.js';
import { NetnsLab, netnsSkipReason, terminate } from '../src/lab/netns.js';
import { makeCA, makeHost, type TestCA } from '../src/lab/pki.js';
import { pollUntil, sleep } from '../src/lab/wait.js';
import { HEADER_LEN, MessageType, parseHeader, writeHeader, writeU64BE } from '../src/protocol/header.js';
import { decodeHandshake, encodeHandshake } from '../src/protocol/messages.js';
import { generateKeyPair, initiatorReadMessage2, initiatorWriteMessage1, type InitiatorState, type KeyPair } from '../src/protocol/noise.js';
import { benchArgs } from './args.js';
import { rcvbufErrors, udpCounter } from '../src/io/kernel-counters.js';

const PORT = 4242;
const TARGET = { under: '172.31.89.1', over: '10.89.0.1' };
const PEER = { under: '172.31.89.2', over: '10.89.0.2' };
const HANDSHAKER = '172.31.89.3';
const ATTACKER_BASE = 16; // 172.31.89.16 + i
/** Sources past what fits next to the others on the link: 172.31.96.0/20 (one socket each, so as many file descriptors). */
const MAX_LINK_SOURCES = 200;
const WIDE_SOURCES = '172.31.96.0/20';
const MAX_WIDE_SOURCES = 4094;
const TUN = 'mf0';
const SELF = fileURLToPath(import.meta.url);

const fail = (message: string): never => {
  throw new Error(message);
};
const say = (text: string): void => void process.stdout.write(`${text}\n`);
const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');

// ---------------------------------------------------------------------------------------------
// Attacker role: sends the pool of hostile datagrams round-robin from every source at `rate`.

interface AttackerPlan {
  target: string;
  port: number;
  sources: string[];
  rate: number;
  seconds: number;
  /** Hostile datagrams by kind (base64); the attacker interleaves the kinds. */
  pool: Record<string, string[]>;
}

/** Datagrams per sendmmsg call. */
const FRAME = 32;

async function attacker(plan: AttackerPlan): Promise<void> {
  const Udp = tryLoadNative()?.Udp;
  if (!Udp) throw new Error('attacker: the native addon is not built (npm run install)');
  const kinds = Object.values(plan.pool).map((list) => list.map(unb64));
  // Interleave the kinds so that every frame carries the whole mix.
  const mix: Buffer[] = [];
  const longest = Math.max(...kinds.map((k) => k.length));
  for (let i = 0; i < longest; i++) for (const k of kinds) if (k.length > 0) mix.push(k[i % k.length]!);
  const sockets = plan.sources.map((host) => new Udp(host, 0, 0, 8 << 20, 1, 9216, false));
  // Fixed frames per socket: the send arrays are built once.
  const frames: { sock: (typeof sockets)[number]; data: Buffer[]; addrs: string[]; ports: number[] }[] = [];
  let cursor = 0;
  for (let f = 0; f < Math.max(sockets.length * 4, Math.ceil(mix.length / FRAME)); f++) {
    const data: Buffer[] = [];
    for (let i = 0; i < FRAME; i++) data.push(mix[cursor++ % mix.length]!);
    frames.push({ sock: sockets[f % sockets.length]!, data, addrs: new Array(FRAME).fill(plan.target), ports: new Array(FRAME).fill(plan.port) });
  }
  let sent = 0;
  let refused = 0;
  let frame = 0;
  const start = performance.now();
  const end = start + plan.seconds * 1000;
  if (plan.rate > 0) {
    while (performance.now() < end) {
      const due = Math.floor((plan.rate * (performance.now() - start)) / 1000) - sent;
      for (let budget = Math.min(due, 4096); budget > 0; budget -= FRAME) {
        const f = frames[frame++ % frames.length]!;
        const n = f.sock.send(f.data, f.addrs, f.ports);
        sent += n;
        refused += FRAME - n;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  } else {
    await sleep(plan.seconds * 1000);
  }
  const seconds = (performance.now() - start) / 1000;
  for (const s of sockets) s.close();
  const { user, system } = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ sent, refused, seconds, cpuPct: (user + system) / 1e4 / seconds })}\n`);
}

// ---------------------------------------------------------------------------------------------
// Handshaker role: fresh legitimate handshakes, one every `interval` seconds.

interface HandshakerPlan {
  target: string;
  port: number;
  bind: string;
  seconds: number;
  interval: number;
  timeout: number;
  keyPair: { privateKey: string; publicKey: string };
  /** Handshake certificates (public key omitted), each a new peer; used in turn. */
  certs: string[];
  /** Offset into `certs` for this run, so that rounds use different peers. */
  first: number;
}

interface Attempt {
  state: InitiatorState;
  message: Buffer;
  startedAt: number;
  nextAt: number;
  tries: number;
}

async function handshaker(plan: HandshakerPlan): Promise<void> {
  const keyPair: KeyPair = { privateKey: unb64(plan.keyPair.privateKey), publicKey: unb64(plan.keyPair.publicKey) };
  const certs = plan.certs.map(unb64);
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  await new Promise<void>((resolve) => socket.bind(0, plan.bind, resolve));
  const pending = new Map<number, Attempt>();
  const times: number[] = [];
  let started = 0;
  let failed = 0;
  let badReplies = 0;
  socket.on('message', (data) => {
    const header = parseHeader(data);
    const attempt = header && header.type === MessageType.Handshake && header.counter === 2 ? pending.get(header.remoteIndex) : undefined;
    if (!attempt) return;
    try {
      const { payload } = initiatorReadMessage2(attempt.state, data);
      decodeHandshake(payload);
    } catch {
      badReplies++;
      return;
    }
    pending.delete(header!.remoteIndex);
    times.push(performance.now() - attempt.startedAt);
  });
  const start = performance.now();
  let nextStart = start;
  while (performance.now() - start < plan.seconds * 1000 || pending.size > 0) {
    const now = performance.now();
    if (now >= nextStart && now - start < plan.seconds * 1000) {
      nextStart += plan.interval * 1000;
      const index = randomBytes(4).readUInt32BE() || 1;
      const cert = certs[(plan.first + started++) % certs.length]!;
      const payload = encodeHandshake({ details: { cert, initiatorIndex: index, responderIndex: 0, cookie: 0n, time: BigInt(Date.now()) * 1_000_000n } });
      const header = Buffer.alloc(HEADER_LEN);
      writeHeader(header, 0, MessageType.Handshake, 0, 0, 1);
      const { message, state } = initiatorWriteMessage1('aes', keyPair, header, payload);
      pending.set(index, { state, message, startedAt: now, nextAt: now, tries: 0 });
    }
    for (const [index, a] of pending) {
      if (now - a.startedAt > plan.timeout * 1000) {
        pending.delete(index);
        failed++;
      } else if (now >= a.nextAt) {
        socket.send(a.message, plan.port, plan.target);
        a.tries++;
        a.nextAt = now + 100 * a.tries; // Nebula: try_interval 100 ms, linear backoff
      }
    }
    await sleep(5);
  }
  socket.close();
  process.stdout.write(`${JSON.stringify({ started, succeeded: times.length, failed, badReplies, medianMs: median(times) })}\n`);
}

// ---------------------------------------------------------------------------------------------
// The hostile pool.

/** Certificates signed with node:crypto's Ed25519 (the PKI's pure-JS signer would take a while). */
function signedCerts(ca: TestCA, publicKey: Uint8Array, count: number, firstIp: number): string[] {
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), ed25519Seed(ca.key)]), format: 'der', type: 'pkcs8' });
  const issuer = certificateFingerprint(ca.cert);
  const { notBefore, notAfter } = ca.cert.details;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const details: CertificateDetails = { version: 1, name: `fresh${i}`, networks: [ipNetworkFromCidr({ ip: firstIp + i, bits: 16 })], unsafeNetworks: [], groups: [], notBefore, notAfter: notAfter - 1, publicKey, curve: 'CURVE25519', isCA: false, issuer };
    const cert: Certificate = { details, signature: sign(null, marshalDetails(details), key) };
    out.push(b64(marshalCertificate(cert, { omitPublicKey: true })));
  }
  return out;
}

function message1(cert: Uint8Array): Buffer {
  const payload = encodeHandshake({ details: { cert, initiatorIndex: randomInt(1, 2 ** 32 - 1), responderIndex: 0, cookie: 0n, time: BigInt(Date.now()) * 1_000_000n } });
  const header = Buffer.alloc(HEADER_LEN);
  writeHeader(header, 0, MessageType.Handshake, 0, 0, 1);
  return initiatorWriteMessage1('aes', generateKeyPair(), header, payload).message;
}

function hostilePool(ca: TestCA, captured: Buffer[]): Record<string, string[]> {
  const N = 64;
  const pool: Record<string, Buffer[]> = { malformed: [], unknownIndex: [], wrongLength: [], replay: [], replayAhead: [], forgedCert: [], invalidCert: [], garbageNoise: [] };
  for (let i = 0; i < N; i++) pool.malformed!.push(randomBytes(randomInt(1, HEADER_LEN)));
  for (let i = 0; i < N; i++) {
    const d = randomBytes(randomInt(HEADER_LEN + 17, 1400));
    writeHeader(d, 0, MessageType.Message, 0, randomInt(1, 2 ** 32 - 1), randomInt(3, 2 ** 31));
    pool.unknownIndex!.push(d);
  }
  const realIndex = captured[0] ? parseHeader(captured[0])!.remoteIndex : randomInt(1, 2 ** 32 - 1);
  for (let i = 0; i < N; i++) {
    const d = randomBytes(HEADER_LEN + randomInt(0, 16));
    writeHeader(d, 0, MessageType.Message, 0, realIndex, randomInt(3, 2 ** 31));
    pool.wrongLength!.push(d);
  }
  for (const c of captured) {
    pool.replay!.push(c);
    const ahead = Buffer.from(c);
    writeU64BE(ahead, 8, parseHeader(c)!.counter + 1_000_000 + randomInt(1_000_000));
    pool.replayAhead!.push(ahead);
  }
  // Valid-looking: a well-formed certificate naming the mesh's CA as issuer, signed by another key.
  const rogue = makeCA(ca.cert.details.name);
  const realIssuer = certificateFingerprint(ca.cert);
  for (let i = 0; i < N; i++) {
    const host = makeHost(rogue, `forged${i}`, `10.89.200.${i + 1}/16`);
    const forged: Certificate = { ...host.cert, details: { ...host.cert.details, issuer: realIssuer } };
    pool.forgedCert!.push(message1(marshalCertificate(forged, { omitPublicKey: true })));
    pool.invalidCert!.push(message1(randomBytes(randomInt(20, 300))));
    const garbage = randomBytes(randomInt(HEADER_LEN + 32, 600));
    writeHeader(garbage, 0, MessageType.Handshake, 0, 0, 1);
    pool.garbageNoise!.push(garbage);
  }
  return Object.fromEntries(Object.entries(pool).map(([k, v]) => [k, v.map(b64)]));
}

/** UDP payloads from a pcap file (Ethernet, IPv4, UDP). */
function udpPayloads(pcap: Buffer): Buffer[] {
  const out: Buffer[] = [];
  if (pcap.length < 24) return out;
  for (let off = 24; off + 16 <= pcap.length; ) {
    const incl = pcap.readUInt32LE(off + 8);
    const frame = pcap.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    if (frame.length < 14 + 20 + 8 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (frame[14]! & 0x0f) * 4;
    const udp = frame.subarray(14 + ihl);
    out.push(Buffer.from(udp.subarray(8, udp.readUInt16BE(4))));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The bench.

interface Options {
  rates: number[];
  rounds: number;
  seconds: number;
  sources: number;
  pingInterval: number;
  handshakeInterval: number;
  handshakeTimeout: number;
  json: string | null;
  /** Extra `node` flags for the target (e.g. --cpu-prof --cpu-prof-dir=DIR). */
  nodeArgs: string[];
  /** The target's handshakes.incoming_per_second (null: the default). */
  incomingPerSecond: number | null;
  /** Keep the work directory (configs, node logs). */
  keep: boolean;
}

interface RoundResult {
  round: number;
  rate: number;
  attackerSent: number;
  attackerRate: number;
  /** The attacker process's CPU (% of one core, including its start-up). */
  attackerCpuPct: number;
  /** Datagrams the target's kernel saw per second (delivered to the socket or dropped for a full buffer). */
  kernelRate: number;
  rcvbufErrors: number;
  pingsSent: number;
  pingsAnswered: number;
  pingsPct: number;
  handshakesStarted: number;
  handshakesSucceeded: number;
  handshakesPct: number;
  handshakeMedianMs: number;
  nodeCpuPct: number;
  /** What the target counted as dropped during the round, by kind (its status counters). */
  nodeDrops: Record<string, number>;
  logLines: number;
  loadBefore: number;
  loadAfter: number;
}

/** The usage lines of the header above. */
const USAGE = `usage: npm run bench:flood -- [--rates 10000,40000] [--rounds 3] [--seconds 20] [--sources 32 (at most 4094)]
       [--ping-interval 0.1] [--handshake-interval 0.25] [--handshake-timeout 2]
       [--incoming-per-second N] [--json FILE] [--node-args="--cpu-prof --cpu-prof-dir=DIR"] [--keep]`;

function options(): Options {
  const values = benchArgs(USAGE, {
    options: {
      rates: { type: 'string', default: '10000,40000' },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '20' },
      sources: { type: 'string', default: '32' },
      'ping-interval': { type: 'string', default: '0.1' },
      'handshake-interval': { type: 'string', default: '0.25' },
      'handshake-timeout': { type: 'string', default: '2' },
      json: { type: 'string' },
      'node-args': { type: 'string', default: '' },
      'incoming-per-second': { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: need a number >= ${min}, not ${v}`);
    return n;
  };
  const o: Options = {
    rates: values.rates.split(',').map((r) => num('rates', r, 0)),
    rounds: num('rounds', values.rounds, 1),
    seconds: num('seconds', values.seconds, 2),
    sources: num('sources', values.sources, 1),
    pingInterval: num('ping-interval', values['ping-interval'], 0.01),
    handshakeInterval: num('handshake-interval', values['handshake-interval'], 0.01),
    handshakeTimeout: num('handshake-timeout', values['handshake-timeout'], 0.1),
    json: values.json ?? null,
    nodeArgs: values['node-args'].split(' ').filter(Boolean),
    incomingPerSecond: values['incoming-per-second'] === undefined ? null : num('incoming-per-second', values['incoming-per-second'], 1),
    keep: values.keep,
  };
  if (o.sources > MAX_WIDE_SOURCES) throw new Error(`--sources: at most ${MAX_WIDE_SOURCES}`);
  return o;
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15)
}
const CLK_TCK = 100;

async function udpCounters(lab: NetnsLab, ns: string): Promise<{ in: number; rcvbuf: number }> {
  const snmp = await lab.execOk(ns, 'cat', ['/proc/net/snmp']);
  const rcvbuf = rcvbufErrors(snmp);
  return { in: udpCounter(snmp, 'InDatagrams') + rcvbuf, rcvbuf };
}

/** The target's drop counters, read over its control socket. */
async function drops(socket: string): Promise<Record<string, number>> {
  return ((await controlRequest(socket, { command: 'status' }, 10_000)) as NodeStatus).counters.dropped;
}

function lineCount(path: string): number {
  try {
    return readFileSync(path, 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
}

/** Runs a role of this file inside `ns` with its plan; resolves with its JSON result line. */
async function role<T>(lab: NetnsLab, ns: string, name: string, plan: unknown, dir: string, timeoutMs: number): Promise<T> {
  const planPath = join(dir, `${name}-${randomBytes(3).toString('hex')}.json`);
  writeFileSync(planPath, JSON.stringify(plan));
  const child = lab.spawn(ns, process.execPath, [SELF, '--role', name, '--plan', planPath]);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (err += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  rmSync(planPath, { force: true });
  const line = out.trim().split('\n').pop();
  if (code !== 0 || !line) throw new Error(`${name} failed (exit ${code}): ${err.trim()}`);
  return JSON.parse(line) as T;
}

async function bench(o: Options): Promise<void> {
  const skip = netnsSkipReason();
  if (skip) throw new Error(`bench:flood ${skip}`);
  if (!tryLoadNative()?.Udp) throw new Error('bench:flood needs the native addon (npm run install)');
  for (const tool of ['tcpdump', 'ping']) {
    if (!process.env.PATH?.split(':').some((d) => existsSync(join(d, tool)))) throw new Error(`bench:flood needs ${tool}`);
  }
  const lab = NetnsLab.create(undefined, 'mf');
  const dir = mkdtempSync(join(tmpdir(), 'mesh-flood-'));
  const children: ChildProcess[] = [];
  process.once('SIGINT', () => process.exit(130));
  process.once('exit', () => (o.keep ? say(`kept ${dir}`) : rmSync(dir, { recursive: true, force: true })));
  try {
    const nsT = await lab.namespace('t');
    const nsO = await lab.namespace('o');
    const { a, b } = await lab.veth(nsT, nsO);
    await lab.address(nsT, a, `${TARGET.under}/24`);
    await lab.address(nsO, b, `${PEER.under}/24`);
    await lab.ip(nsO, 'addr', 'add', `${HANDSHAKER}/24`, 'dev', b);
    let sources: string[];
    if (o.sources <= MAX_LINK_SOURCES) {
      sources = Array.from({ length: o.sources }, (_, i) => `172.31.89.${ATTACKER_BASE + i}`);
      for (const s of sources) await lab.ip(nsO, 'addr', 'add', `${s}/24`, 'dev', b);
    } else {
      sources = Array.from({ length: o.sources }, (_, i) => `172.31.${96 + ((i + 1) >> 8)}.${(i + 1) & 255}`);
      await lab.ip(nsO, 'route', 'add', 'local', WIDE_SOURCES, 'dev', 'lo');
      await lab.ip(nsT, 'route', 'add', WIDE_SOURCES, 'via', PEER.under);
    }

    const ca = makeCA('flood CA', { ips: ['10.89.0.0/16'] });
    const start = async (ns: string, name: string, host: { under: string; over: string }, peer: { under: string; over: string }, nodeArgs: string[] = [], more: Record<string, unknown> = {}): Promise<{ child: ChildProcess; log: string; socket: string }> => {
      const h = makeHost(ca, name, `${host.over}/16`);
      const config = nebulaConfig({
        ca: h.ca,
        cert: h.certPem,
        key: h.keyPem,
        listen: { host: '0.0.0.0', port: PORT },
        staticHostMap: { [peer.over]: [`${peer.under}:${PORT}`] },
        tun: { dev: TUN },
        logLevel: 'info',
        extra: { control: { socket: join(dir, `${name}.sock`) }, ...more },
      });
      const path = join(dir, `${name}.yml`);
      writeFileSync(path, stringifyYaml(config));
      const log = join(dir, `${name}.log`);
      const fd = openSync(log, 'a');
      const child = lab.spawn(ns, process.execPath, [...nodeArgs, MESH_BIN, 'node', '--config', path], { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      children.push(child);
      await pollUntil(() => /mesh node started/.test(readFileSync(log, 'utf8')) || (child.exitCode !== null && fail(`${name} exited: ${readFileSync(log, 'utf8')}`)), 20_000, () => `${name} did not start: ${readFileSync(log, 'utf8')}`);
      return { child, log, socket: join(dir, `${name}.sock`) };
    };
    const target = await start(nsT, 'target', TARGET, PEER, o.nodeArgs, o.incomingPerSecond === null ? {} : { handshakes: { incoming_per_second: o.incomingPerSecond } });
    await start(nsO, 'peer', PEER, TARGET);
    const targetPid = target.child.pid!;
    const ping1 = await lab.exec(nsO, 'ping', ['-c', '1', '-w', '10', TARGET.over], { timeoutMs: 15_000 });
    if (ping1.code !== 0) throw new Error(`no tunnel between the legitimate node and the target: ${ping1.stdout}${ping1.stderr}`);

    // Real tunnel datagrams for the replays: capture the legitimate node's packets to the target.
    const pcap = join(dir, 'tunnel.pcap');
    const dump = lab.spawn(nsO, 'tcpdump', ['-i', b, '-U', '-c', '32', '-w', pcap, 'udp and src host', PEER.under, 'and dst port', String(PORT)]);
    await sleep(1000);
    await lab.exec(nsO, 'ping', ['-c', '40', '-i', '0.02', TARGET.over], { timeoutMs: 15_000 });
    await pollUntil(() => dump.exitCode !== null, 10_000, () => 'tcpdump did not finish').catch(() => terminate(dump));
    const captured = udpPayloads(readFileSync(pcap)).filter((d) => d.length > HEADER_LEN && parseHeader(d)!.type === MessageType.Message);
    if (captured.length === 0) throw new Error('captured no tunnel datagrams for the replays');
    const pool = hostilePool(ca, captured);

    const hsKeys = generateKeyPair();
    const perRun = Math.ceil(o.seconds / o.handshakeInterval) + 1;
    const certs = signedCerts(ca, hsKeys.publicKey, perRun * o.rates.length * o.rounds, 0x0a590000 + 256);
    let certCursor = 0;

    say(`bench:flood  ${new Date().toISOString()}  ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}`);
    say(`  rates ${o.rates.join(', ')}/s, ${o.rounds} rounds of ${o.seconds} s, ${o.sources} attacker sources, target handshakes.incoming_per_second ${o.incomingPerSecond ?? "default"}, pool ${Object.entries(pool).map(([k, v]) => `${k} ${v.length}`).join(', ')}`);
    say(`  legitimate: ping every ${o.pingInterval} s over the tunnel; a fresh handshake every ${o.handshakeInterval} s (success = message 2 within ${o.handshakeTimeout} s)`);
    const results: RoundResult[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      for (const rate of o.rates) {
        await sleep(2000); // let the previous round's backlog drain
        const loadBefore = loadavg()[0]!;
        const kernelBefore = await udpCounters(lab, nsT);
        const cpuBefore = cpuTicks(targetPid);
        const logBefore = lineCount(target.log);
        const dropsBefore = await drops(target.socket);
        const t0 = performance.now();
        const attack = role<{ sent: number; seconds: number; cpuPct: number }>(lab, nsO, 'attacker', { target: TARGET.under, port: PORT, sources, rate, seconds: o.seconds, pool } satisfies AttackerPlan, dir, o.seconds * 1000 + 30_000);
        const pings = Math.floor(o.seconds / o.pingInterval);
        const ping = lab.exec(nsO, 'ping', ['-q', '-c', String(pings), '-i', String(o.pingInterval), '-W', '1', TARGET.over], { timeoutMs: o.seconds * 1000 + 20_000 });
        const shakes = role<{ started: number; succeeded: number; medianMs: number }>(
          lab,
          nsO,
          'handshaker',
          { target: TARGET.under, port: PORT, bind: HANDSHAKER, seconds: o.seconds, interval: o.handshakeInterval, timeout: o.handshakeTimeout, keyPair: { privateKey: b64(hsKeys.privateKey), publicKey: b64(hsKeys.publicKey) }, certs, first: certCursor } satisfies HandshakerPlan,
          dir,
          o.seconds * 1000 + 30_000,
        );
        certCursor += perRun;
        const [attacked, pinged, shook] = await Promise.all([attack, ping, shakes]);
        const wall = (performance.now() - t0) / 1000;
        const cpu = ((cpuTicks(targetPid) - cpuBefore) / CLK_TCK / wall) * 100;
        const kernelAfter = await udpCounters(lab, nsT);
        const dropsAfter = await drops(target.socket);
        const nodeDrops = Object.fromEntries(
          Object.entries(dropsAfter)
            .map(([kind, n]) => [kind, n - (dropsBefore[kind] ?? 0)] as const)
            .filter(([, n]) => n > 0)
            .sort((x, y) => y[1] - x[1]),
        );
        const m = /(\d+) packets transmitted, (\d+) received/.exec(pinged.stdout);
        const r: RoundResult = {
          round,
          rate,
          attackerSent: attacked.sent,
          attackerRate: Math.round(attacked.sent / attacked.seconds),
          attackerCpuPct: attacked.cpuPct,
          kernelRate: Math.round((kernelAfter.in - kernelBefore.in) / attacked.seconds),
          rcvbufErrors: kernelAfter.rcvbuf - kernelBefore.rcvbuf,
          pingsSent: Number(m?.[1] ?? 0),
          pingsAnswered: Number(m?.[2] ?? 0),
          pingsPct: m ? (100 * Number(m[2])) / Number(m[1]) : 0,
          handshakesStarted: shook.started,
          handshakesSucceeded: shook.succeeded,
          handshakesPct: shook.started ? (100 * shook.succeeded) / shook.started : 0,
          handshakeMedianMs: shook.medianMs,
          nodeCpuPct: cpu,
          nodeDrops,
          logLines: lineCount(target.log) - logBefore,
          loadBefore,
          loadAfter: loadavg()[0]!,
        };
        results.push(r);
        const reached = rate === 0 || r.attackerRate >= 0.95 * rate ? '' : '  ** attacker below the set rate: this round does not count **';
        say(
          `round ${round} rate ${rate}/s: sent ${r.attackerRate}/s (attacker CPU ${r.attackerCpuPct.toFixed(0)} %), target kernel ${r.kernelRate}/s (${r.rcvbufErrors} dropped for a full buffer); ` +
            `pings ${r.pingsAnswered}/${r.pingsSent} (${r.pingsPct.toFixed(1)} %), handshakes ${r.handshakesSucceeded}/${r.handshakesStarted} (${r.handshakesPct.toFixed(1)} %, median ${r.handshakeMedianMs.toFixed(0)} ms); ` +
            `node CPU ${r.nodeCpuPct.toFixed(0)} %, ${r.logLines} log lines; load ${r.loadBefore.toFixed(2)} -> ${r.loadAfter.toFixed(2)}${reached}`,
        );
        say(`    node drops: ${Object.entries(nodeDrops).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`);
        if (target.child.exitCode !== null) throw new Error(`the target node exited (${target.child.exitCode}); log: ${target.log}`);
      }
    }

    const TARGETS: Record<number, { pings: number; handshakes: number }> = { 40000: { pings: 95, handshakes: 90 }, 10000: { pings: 99, handshakes: 100 } };
    say('\nmedians over the rounds (rounds whose attacker fell below 95 % of the rate excluded):');
    say('| rate/s | reached/s | kernel/s | buffer drops | pings % | handshakes % | handshake ms | node CPU % | load before -> after | target |');
    say('|---:|---:|---:|---:|---:|---:|---:|---:|---|---|');
    const summary = o.rates.map((rate) => {
      const rs = results.filter((r) => r.rate === rate && (rate === 0 || r.attackerRate >= 0.95 * rate));
      const s = {
        rate,
        rounds: rs.length,
        attackerRate: median(rs.map((r) => r.attackerRate)),
        kernelRate: median(rs.map((r) => r.kernelRate)),
        rcvbufErrors: median(rs.map((r) => r.rcvbufErrors)),
        pingsPct: median(rs.map((r) => r.pingsPct)),
        handshakesPct: median(rs.map((r) => r.handshakesPct)),
        handshakeMedianMs: median(rs.map((r) => r.handshakeMedianMs)),
        nodeCpuPct: median(rs.map((r) => r.nodeCpuPct)),
        loadBefore: median(rs.map((r) => r.loadBefore)),
        loadAfter: median(rs.map((r) => r.loadAfter)),
      };
      const t = TARGETS[rate];
      const verdict = t ? (s.pingsPct >= t.pings && s.handshakesPct >= t.handshakes ? `met (>= ${t.pings} / ${t.handshakes})` : `NOT met (>= ${t.pings} / ${t.handshakes})`) : '';
      say(
        `| ${rate} | ${s.attackerRate} | ${s.kernelRate} | ${s.rcvbufErrors} | ${s.pingsPct.toFixed(1)} | ${s.handshakesPct.toFixed(1)} | ${s.handshakeMedianMs.toFixed(0)} | ${s.nodeCpuPct.toFixed(0)} | ${s.loadBefore.toFixed(2)} -> ${s.loadAfter.toFixed(2)} | ${verdict} |`,
      );
      return { ...s, verdict };
    });
    say(`target log: ${statSync(target.log).size} bytes over the run`);
    say('reached: what the attacker sent per second; kernel: what reached the target namespace (socket + buffer drops);');
    say('buffer drops: datagrams the kernel dropped because the node did not read them in time; node CPU: % of one core.');
    say('On a shared machine read the figures next to the load average: the node gets the CPU the scheduler gives it.');
    if (o.json) writeFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, node: process.version, options: o, rounds: results, summary }, null, 2));
  } finally {
    for (const c of children) await terminate(c);
    await lab.cleanup();
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--role');
  if (i >= 0) {
    const plan = JSON.parse(readFileSync(process.argv[process.argv.indexOf('--plan') + 1]!, 'utf8'));
    if (process.argv[i + 1] === 'attacker') return attacker(plan as AttackerPlan);
    if (process.argv[i + 1] === 'handshaker') return handshaker(plan as HandshakerPlan);
    throw new Error(`unknown role ${process.argv[i + 1]}`);
  }
  await bench(options());
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:flood: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
