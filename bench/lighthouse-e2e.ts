/**
 * Lighthouse end to end: one `mesh lighthouse` process on loopback and --hosts simulated hosts, each
 * with its own certificate, that complete a real Noise IX handshake with it over UDP, send an
 * encrypted HostUpdateNotification, and then ask encrypted HostQuerys. Unlike bench/lighthouse.ts
 * this includes the network, the encryption and the lighthouse's whole receive path.
 *
 *   node dist/bench/lighthouse-e2e.js [--hosts 100000] [--workers 4] [--rounds 3] [--seconds 10]
 *                                     [--window 1024] [--handshake-window 16] [--sockets 64] [--json FILE]
 *                                     [--cpu-prof DIR]   (the lighthouse's V8 CPU profile, written when it stops)
 *                                     [--node-options=--max-old-space-size=512]   (node flags for the lighthouse,
 *                                      after the bin's own: --node-options=--max-semi-space-size=16 overrides its 1)
 *                                     [--bin PATH]   (the mesh CLI to run, default the bundled bin: e.g. an
 *                                      older build's dist/src/cli/bin.js, to compare handshake rates)
 *
 * The load comes from --workers worker threads; each owns hosts/workers hosts, --sockets UDP sockets
 * (native recvmmsg/sendmmsg batches, each socket on its own 127.x.y.z address: the lighthouse admits
 * handshake message 1s per source address) and keeps its share of --handshake-window handshakes or
 * --window queries in flight. The lighthouse handles at most 16 message 1s per receive batch and
 * drops the rest (flood protection, src/node/outside.ts), so more handshakes in flight only cause
 * retries. Phases, each reported with its duration and the lighthouse's CPU and RSS:
 *   1. sign: every host gets a certificate (node:crypto Ed25519, in the workers);
 *   2. handshakes: message 1 with the host's certificate, message 2 checked and split into keys;
 *      retried with back-off from 2 s, given up after 5 tries;
 *   3. updates: one encrypted HostUpdateNotification per host with two reported addresses;
 *   4. held: every host is queried once; it is held when the encrypted answer carries both of its
 *      reported addresses;
 *   5. --rounds rounds of --seconds: queries for random hosts; a query counts once its answer is
 *      received, decrypted, decoded and matched (the lighthouse also sends each target a punch
 *      notification: those are counted by header, not decrypted). Lost = unanswered within 1 s.
 * The lighthouse's CPU share (from /proc) next to the bench's own says which side was the limit; each
 * round also gives both sides' CPU time per 1000 answered queries, the figure to compare between runs
 * on a shared machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { certificateFingerprint, ed25519Seed, marshalCertificate, marshalDetails, type Certificate, type CertificateDetails } from '../pki/cert.js';
import { openSslAeadFactory } from '../src/io/openssl-aead.js';
import { bindUdp, type Datagram, type OutgoingDatagram, type UdpBind } from '../src/io/udp.js';
import { MESH_BIN, meshNodeFlags } from '../src/lab/binaries.js';
import { nebulaConfig } from '../src/lab/configs.js';
import { ipNetworkFromCidr } from '../src/net/ip.js';
import { makeCA, makeHost } from '../src/lab/pki.js';
import { within } from '../src/lab/wait.js';
import { encodeHeader, HEADER_LEN, MessageSubType, MessageType, parseHeader, writeHeader } from '../src/protocol/header.js';
import { decodeHandshake, decodeMeta, emptyMetaDetails, encodeHandshake, encodeMeta, MetaType } from '../src/protocol/messages.js';
import { createAead } from '../src/protocol/aead.js';
import { generateKeyPair, initiatorReadMessage2, initiatorWriteMessage1, type HandshakeKeys, type InitiatorState } from '../src/protocol/noise.js';
import { benchArgs } from './args.js';

const NET = 0x0a000000; // 10.0.0.0/8; the lighthouse is 10.0.0.1, host i is 10.0.0.2 + i
const QUERY_TIMEOUT_MS = 1000;
const HANDSHAKE_RETRY_MS = 2000;
const HANDSHAKE_TRIES = 5;
/** How long a phase may take before the bench gives up on it (each await on the network is bounded). */
const PHASE_LIMIT_MS = 15 * 60_000;

interface Setup {
  id: number;
  first: number;
  count: number;
  totalHosts: number;
  port: number;
  sockets: number;
  window: number;
  handshakeWindow: number;
  caSeed: Uint8Array;
  issuer: string;
  notBefore: number;
  notAfter: number;
}

type Command = { cmd: 'handshakes' } | { cmd: 'updates' } | { cmd: 'held' } | { cmd: 'queries'; seconds: number } | { cmd: 'stop' };

interface PhaseResult {
  ms: number;
  ok: number;
  failed: number;
  lost: number;
  punches: number;
  /** Liveness tests from the lighthouse, answered. */
  tests: number;
  /** Updates sent again by the held check. */
  resent?: number;
  undecryptable: number;
  perSecond: number[];
}

// ------------------------------------------------------------------------------------------------
// Worker: a slice of the simulated hosts.

interface SimHost {
  index: number;
  vpnIp: number;
  localIndex: number;
  socket: number;
  cert: Uint8Array;
  pending?: { state: InitiatorState; message: Buffer; sentAt: number; tries: number };
  keys?: HandshakeKeys;
  remoteIndex: number;
  counter: number;
  query?: { target: number; sentAt: number };
}

/**
 * A HostQuery's plaintext: encodeMeta's bytes for the first host with the target's 4-byte varint
 * (every address in 10.0.0.0/8 takes 4) written over its last bytes, so the hosts do not run
 * protobufjs per query. `checkHostQuery` compares it with encodeMeta.
 */
const QUERY_TEMPLATE = encodeMeta(MetaType.HostQuery, { ...emptyMetaDetails(), vpnIp: NET + 2 });
function hostQuery(vpnIp: number): Uint8Array {
  const out = QUERY_TEMPLATE.slice();
  let at = out.length - 4;
  for (let i = 0; i < 3; i++, vpnIp >>>= 7) out[at++] = (vpnIp & 0x7f) | 0x80;
  out[at] = vpnIp;
  return out;
}
function checkHostQuery(vpnIp: number): void {
  const expected = encodeMeta(MetaType.HostQuery, { ...emptyMetaDetails(), vpnIp });
  if (Buffer.compare(expected, hostQuery(vpnIp)) !== 0) throw new Error(`the precomputed HostQuery for ${vpnIp} differs from encodeMeta's`);
}

const reported = (index: number) => [
  { ip: 0xc0a80000 + (index & 0xffff), port: 4242 },
  { ip: 0xac100000 + (index >>> 16), port: 4243 },
];

async function worker(setup: Setup): Promise<void> {
  const port = parentPort!;
  const keyPair = generateKeyPair();
  // The hosts' tunnels on the addon's OpenSSL contexts, as mesh nodes run them: node:crypto's
  // cipher object per packet would make the bench, not the lighthouse, the limit.
  const aead = openSslAeadFactory() ?? createAead;
  const signStart = performance.now();
  const caKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), setup.caSeed]), format: 'der', type: 'pkcs8' });
  const hosts: SimHost[] = [];
  for (let i = 0; i < setup.count; i++) {
    const index = setup.first + i;
    const details: CertificateDetails = { version: 1, name: `sim${index}`, networks: [ipNetworkFromCidr({ ip: NET + 2 + index, bits: 8 })], unsafeNetworks: [], groups: [], notBefore: setup.notBefore, notAfter: setup.notAfter, publicKey: keyPair.publicKey, curve: 'CURVE25519', isCA: false, issuer: setup.issuer };
    const cert: Certificate = { details, signature: sign(null, marshalDetails(details), caKey) };
    hosts.push({ index, vpnIp: NET + 2 + index, localIndex: i + 1, socket: i % setup.sockets, cert: marshalCertificate(cert, { omitPublicKey: true }), remoteIndex: 0, counter: 2 });
  }
  const signMs = performance.now() - signStart;

  const sockets: UdpBind[] = [];
  for (let s = 0; s < setup.sockets; s++) {
    const host = `127.${10 + setup.id}.${s >> 7}.${(s & 127) + 1}`;
    sockets.push(await bindUdp({ host, port: 0, readBuffer: 4 << 20, writeBuffer: 4 << 20, batch: 64, offload: false }));
  }
  const lighthouse = { address: '127.0.0.1', port: setup.port };
  const outbox: OutgoingDatagram[][] = sockets.map(() => []);
  const queue = (host: SimHost, data: Uint8Array) => void outbox[host.socket]!.push({ data, to: lighthouse });
  const flush = () => {
    for (let s = 0; s < sockets.length; s++) {
      if (outbox[s]!.length === 0) continue;
      sockets[s]!.send(outbox[s]!);
      outbox[s] = [];
    }
  };
  const send = (host: SimHost, type: number, plaintext: Uint8Array) => {
    const counter = ++host.counter;
    queue(host, host.keys!.encrypt.encryptPacket(encodeHeader(type, 0, host.remoteIndex, counter), counter, plaintext));
  };
  const meta = (host: SimHost, type: number, details: ReturnType<typeof emptyMetaDetails>) => send(host, MessageType.LightHouse, encodeMeta(type, details));
  const query = (host: SimHost, vpnIp: number) => send(host, MessageType.LightHouse, hostQuery(vpnIp));
  checkHostQuery(NET + 2 + setup.first);
  checkHostQuery(NET + 1 + setup.first + setup.count);

  // What the phase in progress does with a datagram, and its tallies.
  let result: PhaseResult = { ms: 0, ok: 0, failed: 0, lost: 0, punches: 0, tests: 0, undecryptable: 0, perSecond: [] };
  let inFlight = 0;
  let wantAddresses = false;
  /** Hosts the held check found without their reported addresses (or got no answer for). */
  let missing: SimHost[] = [];
  const onDatagram = (data: Buffer) => {
    const header = parseHeader(data);
    const host = header && header.remoteIndex >= 1 && header.remoteIndex <= hosts.length ? hosts[header.remoteIndex - 1]! : undefined;
    if (!header || !host) return;
    if (header.type === MessageType.Handshake && header.counter === 2 && host.pending) {
      try {
        const { payload, keys } = initiatorReadMessage2(host.pending.state, data);
        host.remoteIndex = decodeHandshake(payload).details.responderIndex;
        host.keys = keys;
        host.pending = undefined;
        inFlight--;
        result.ok++;
      } catch {
        result.undecryptable++;
      }
      return;
    }
    if (header.type === MessageType.Test && header.subtype === MessageSubType.TestRequest && host.keys) {
      // The lighthouse checks quiet tunnels it sends to (punch notifications) and closes those
      // that do not answer, as nebula does: answer like a real host.
      const payload = host.keys.decrypt.decryptPacket(data, header.counter);
      if (!payload) return void result.undecryptable++;
      const counter = ++host.counter;
      queue(host, host.keys.encrypt.encryptPacket(encodeHeader(MessageType.Test, MessageSubType.TestReply, host.remoteIndex, counter), counter, payload));
      result.tests++;
      return;
    }
    if (header.type !== MessageType.LightHouse || !host.keys) return;
    if (!host.query) return void result.punches++; // a punch notification for a host that asked nothing
    const plain = host.keys.decrypt.decryptPacket(data, header.counter);
    if (!plain) return void result.undecryptable++;
    const message = decodeMeta(plain);
    if (message.type === MetaType.HostPunchNotification) return void result.punches++;
    if (message.type !== MetaType.HostQueryReply || Number(message.details.vpnIp) !== host.query.target) return;
    const target = Number(message.details.vpnIp) - NET - 2;
    host.query = undefined;
    inFlight--;
    if (!wantAddresses) return void result.ok++;
    const got = new Set(message.details.ip4AndPorts.map((a) => `${a.ip}:${a.port}`));
    if (reported(target).every((a) => got.has(`${a.ip}:${a.port}`))) result.ok++;
    else {
      result.failed++;
      missing.push(hosts[target - setup.first]!);
    }
  };
  let step: () => void = () => {};
  for (const s of sockets) {
    s.onDatagrams((batch: Datagram[]) => {
      for (const d of batch) onDatagram(d.data);
      step();
      flush();
    });
  }
  /** Runs `tick` every 2 ms and after every received batch until it returns true (or the phase limit). */
  const run = (tick: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const start = performance.now();
      let over = false;
      step = () => {
        if (over) return;
        if (tick()) {
          over = true;
          clearInterval(timer);
          step = () => {};
          resolve();
        } else if (performance.now() - start > PHASE_LIMIT_MS) {
          over = true;
          clearInterval(timer);
          reject(new Error(`worker ${setup.id}: phase did not end within ${PHASE_LIMIT_MS / 60_000} min`));
        }
      };
      const timer = setInterval(() => {
        step();
        flush();
      }, 2);
    });
  const begin = () => {
    result = { ms: 0, ok: 0, failed: 0, lost: 0, punches: 0, tests: 0, undecryptable: 0, perSecond: [] };
    inFlight = 0;
    return performance.now();
  };

  const handshakes = async () => {
    const start = begin();
    let next = 0;
    const pending = new Set<SimHost>();
    await run(() => {
      const now = performance.now();
      for (const host of pending) {
        if (!host.pending) pending.delete(host);
        else if (now - host.pending.sentAt > HANDSHAKE_RETRY_MS * 2 ** (host.pending.tries - 1)) {
          if (host.pending.tries >= HANDSHAKE_TRIES) {
            host.pending = undefined;
            pending.delete(host);
            inFlight--;
            result.failed++;
          } else {
            host.pending.tries++;
            host.pending.sentAt = now;
            queue(host, host.pending.message);
          }
        }
      }
      while (inFlight < setup.handshakeWindow && next < hosts.length) {
        const host = hosts[next++]!;
        const payload = encodeHandshake({ details: { cert: host.cert, initiatorIndex: host.localIndex, responderIndex: 0, cookie: 0n, time: BigInt(Date.now()) * 1_000_000n } });
        const header = Buffer.alloc(HEADER_LEN);
        writeHeader(header, 0, MessageType.Handshake, 0, 0, 1);
        const { message, state } = initiatorWriteMessage1('aes', keyPair, header, payload, undefined, aead);
        host.pending = { state, message, sentAt: now, tries: 1 };
        pending.add(host);
        inFlight++;
        queue(host, message);
      }
      return next >= hosts.length && pending.size === 0;
    });
    result.ms = performance.now() - start;
  };

  /**
   * Updates go out in chunks of 256, each followed by a query for its last host: nebula 1.6 does
   * not acknowledge an update, and the lighthouse handles its one socket's datagrams in order, so
   * the answer means the chunk was read (this keeps the lighthouse's receive buffer from overflowing).
   */
  const updates = async (which: SimHost[]) => {
    const start = begin();
    const list = which.filter((h) => h.keys);
    let next = 0;
    let sent = 0;
    let barrier: SimHost | undefined;
    await run(() => {
      const now = performance.now();
      if (barrier?.query) {
        if (now - barrier.query.sentAt <= QUERY_TIMEOUT_MS) return false;
        barrier.query = undefined;
        inFlight--;
        result.lost++;
      }
      if (next >= list.length) return true;
      const chunk = list.slice(next, next + 256);
      next += chunk.length;
      for (const host of chunk) meta(host, MetaType.HostUpdateNotification, { ...emptyMetaDetails(), vpnIp: host.vpnIp, ip4AndPorts: reported(host.index) });
      sent += chunk.length;
      const target = chunk[chunk.length - 1]!;
      barrier = list.find((h) => h !== target && !h.query);
      if (barrier) {
        barrier.query = { target: target.vpnIp, sentAt: now };
        inFlight++;
        query(barrier, target.vpnIp);
      }
      return false;
    });
    result.ms = performance.now() - start;
    result.ok = sent;
  };

  const live = () => hosts.filter((h) => h.keys);
  /** Keeps up to --window queries outstanding: `target()` picks what to ask for, undefined ends the phase. */
  const queries = async (target: () => number | undefined, seconds?: number) => {
    const start = begin();
    const askers = live();
    if (askers.length === 0) return;
    let exhausted = false;
    let carried: number | undefined;
    let second = start + 1000;
    let okAtSecond = 0;
    const timedOut = (host: SimHost, now: number) => host.query && now - host.query.sentAt > QUERY_TIMEOUT_MS;
    const outstanding = new Set<SimHost>();
    // Timeouts are looked for every 50 ms, not after every received batch: the set holds --window hosts.
    let nextScan = start + 50;
    await run(() => {
      const now = performance.now();
      if (now >= nextScan) {
        nextScan = now + 50;
        for (const host of outstanding) {
          if (!host.query) outstanding.delete(host);
          else if (timedOut(host, now)) {
            if (wantAddresses) missing.push(hosts[host.query!.target - NET - 2 - setup.first]!);
            host.query = undefined;
            outstanding.delete(host);
            inFlight--;
            result.lost++;
          }
        }
      }
      if (now >= second) {
        result.perSecond.push(result.ok - okAtSecond);
        okAtSecond = result.ok;
        second += 1000;
      }
      const over = seconds !== undefined ? now - start >= seconds * 1000 : exhausted && inFlight === 0;
      if (over) return true;
      for (let tries = 0; !exhausted && inFlight < setup.window && tries < 4 * setup.window; tries++) {
        carried ??= target();
        if (carried === undefined) {
          exhausted = true;
          break;
        }
        const vpnIp = carried;
        const asker = askers[Math.floor(Math.random() * askers.length)]!;
        if (asker.query || asker.vpnIp === vpnIp) continue;
        carried = undefined;
        asker.query = { target: vpnIp, sentAt: now };
        outstanding.add(asker);
        inFlight++;
        query(asker, vpnIp);
      }
      return false;
    });
    result.ms = performance.now() - start;
    // Answers still on their way are neither counted nor lost.
    for (const host of outstanding) host.query = undefined;
  };

  port.on('message', async (command: Command) => {
    try {
      if (command.cmd === 'stop') {
        await Promise.all(sockets.map((s) => s.close()));
        port.close();
        return;
      }
      if (command.cmd === 'handshakes') await handshakes();
      else if (command.cmd === 'updates') await updates(hosts);
      else if (command.cmd === 'held') {
        // Every host once; those found without their addresses send their update again (as a
        // real host does every lighthouse.interval) and are asked for again, up to 3 passes.
        let toCheck = live();
        let held = 0;
        let resent = 0;
        const started = performance.now();
        for (let pass = 1; pass <= 3 && toCheck.length > 0; pass++) {
          if (pass > 1) {
            await updates(toCheck);
            resent += toCheck.length;
          }
          missing = [];
          wantAddresses = true;
          let next = 0;
          const list = toCheck;
          await queries(() => (next < list.length ? list[next++]!.vpnIp : undefined));
          wantAddresses = false;
          held += result.ok;
          toCheck = missing;
        }
        result.ok = held;
        result.failed = toCheck.length;
        result.resent = resent;
        result.ms = performance.now() - started;
      } else {
        await queries(() => NET + 2 + Math.floor(Math.random() * setup.totalHosts), command.seconds);
      }
      port.postMessage({ done: command.cmd, result });
    } catch (err) {
      port.postMessage({ error: (err as Error).stack ?? String(err) });
    }
  });
  port.postMessage({ ready: true, signMs });
}

// ------------------------------------------------------------------------------------------------
// Main: the lighthouse process, the workers, the report.

const say = (text: string) => process.stdout.write(`${text}\n`);
const mib = (bytes: number) => (bytes / 1048576).toFixed(0);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
};
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

/** The lighthouse's memory (VmRSS, VmHWM) and CPU time (user + system, ms) from /proc. */
function lighthouseStats(pid: number): { rss: number; hwm: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), cpuMs: ticks * 10 };
}

async function freePort(): Promise<number> {
  const probe = dgram.createSocket('udp4');
  await within(new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve)), 5000, 'binding a probe socket');
  const port = probe.address().port;
  probe.close();
  return port;
}

/** The usage lines of the header above. */
const USAGE = `usage: node dist/bench/lighthouse-e2e.js [--hosts 100000] [--workers 4] [--rounds 3] [--seconds 10] [--window 1024]
       [--handshake-window 16] [--sockets 64] [--json FILE] [--cpu-prof DIR] [--node-options=FLAGS] [--bin PATH]`;

async function main(): Promise<void> {
  const values = benchArgs(USAGE, {
    options: {
      hosts: { type: 'string', default: '100000' },
      workers: { type: 'string', default: String(Math.max(2, Math.min(4, cpus().length * 2))) },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '10' },
      window: { type: 'string', default: '1024' },
      'handshake-window': { type: 'string', default: '16' },
      sockets: { type: 'string', default: '64' },
      json: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'node-options': { type: 'string', default: '' },
      bin: { type: 'string', default: MESH_BIN },
    },
  });
  const hosts = Number(values.hosts);
  const workerCount = Number(values.workers);
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const window = Math.max(1, Math.floor(Number(values.window) / workerCount));
  const handshakeWindow = Math.max(1, Math.floor(Number(values['handshake-window']) / workerCount));
  const socketsPerWorker = Number(values.sockets);
  const bin = values.bin;
  if (!existsSync(bin)) throw new Error(`--bin: ${bin} does not exist`);

  const dir = mkdtempSync(join(tmpdir(), 'mesh-bench-lh-'));
  const ca = makeCA('Bench CA', { ips: ['10.0.0.0/8'] });
  const lh = makeHost(ca, 'lighthouse', '10.0.0.1/8');
  const port = await freePort();
  const config = nebulaConfig({ ca: lh.ca, cert: lh.certPem, key: lh.keyPem, listen: { host: '127.0.0.1', port }, amLighthouse: true, tun: { disabled: true }, logLevel: 'info' });
  Object.assign(config['listen'] as Record<string, unknown>, { read_buffer: 16 << 20, write_buffer: 16 << 20 });
  const configPath = join(dir, 'lighthouse.yml');
  writeFileSync(configPath, JSON.stringify(config));
  const logPath = join(dir, 'lighthouse.log');
  const child: ChildProcess = spawn(process.execPath, [...meshNodeFlags(bin), ...values['node-options'].split(' ').filter(Boolean), ...(values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] : []), bin, '--log-format', 'json', 'lighthouse', '--config', configPath], { stdio: ['ignore', openSync(logPath, 'a'), openSync(logPath, 'a')] });
  const workers: Worker[] = [];
  process.on('exit', () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143)); // as from `timeout`: the exit handler stops the lighthouse
  const log = () => readFileSync(logPath, 'utf8');
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the lighthouse exited (${code}):\n${log().slice(-4000)}`))));
  exited.catch(() => {});

  say(`mesh lighthouse e2e${bin === MESH_BIN ? '' : ` (${bin})`}: ${hosts} hosts,${values['node-options'] ? ` lighthouse node flags "${values['node-options']}",` : ''} ${workerCount} worker threads x ${socketsPerWorker} sockets, ${handshakeWindow * workerCount} handshakes and ${window * workerCount} queries in flight, ${rounds} rounds of ${seconds} s; ${cpus().length} CPUs, load average ${load()}`);
  const started = performance.now();
  await within(
    Promise.race([
      (async () => {
        while (!log().includes('"mesh node started"')) await new Promise((r) => setTimeout(r, 50));
      })(),
      exited,
    ]),
    30_000,
    'the lighthouse starting',
  );
  const pid = child.pid!;

  // Workers: each signs its hosts' certificates, binds its sockets and reports ready.
  const per = Math.ceil(hosts / workerCount);
  const { notBefore, notAfter } = ca.cert.details;
  const ready: Promise<{ signMs: number }>[] = [];
  const results: ((value: { result?: PhaseResult; error?: string }) => void)[] = [];
  for (let id = 0; id < workerCount; id++) {
    const setup: Setup = { id, first: id * per, count: Math.max(0, Math.min(per, hosts - id * per)), totalHosts: hosts, port, sockets: socketsPerWorker, window, handshakeWindow, caSeed: ed25519Seed(ca.key), issuer: certificateFingerprint(ca.cert), notBefore, notAfter: notAfter - 1 };
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: setup });
    workers.push(w);
    ready.push(
      new Promise((resolve, reject) => {
        w.once('error', reject);
        w.once('message', (m: { signMs?: number; error?: string }) => (m.error ? reject(new Error(m.error)) : resolve({ signMs: m.signMs! })));
      }),
    );
    w.on('message', (m: { done?: string; result?: PhaseResult; error?: string }) => {
      if (m.done || m.error) results[id]?.(m);
    });
  }
  const signed = await within(Promise.all(ready), 10 * 60_000, 'signing certificates');
  say(`sign: ${hosts} host certificates in ${(median(signed.map((s) => s.signMs)) / 1000).toFixed(1)} s (in the workers, in parallel)`);

  const phase = async (command: Command, limitMs: number): Promise<PhaseResult & { lhCpu: number; benchCpu: number; lhCpuMs: number; benchCpuMs: number }> => {
    const before = lighthouseStats(pid);
    const benchBefore = process.cpuUsage();
    const wallStart = performance.now();
    const answers = workers.map((_, id) => new Promise<{ result?: PhaseResult; error?: string }>((resolve) => (results[id] = resolve)));
    for (const w of workers) w.postMessage(command);
    const all = await within(Promise.race([Promise.all(answers), exited]), limitMs, `phase ${command.cmd}`);
    const error = all.find((a) => a.error);
    if (error) throw new Error(error.error);
    const wallMs = performance.now() - wallStart;
    const after = lighthouseStats(pid);
    const bench = process.cpuUsage(benchBefore);
    const sum = (f: (r: PhaseResult) => number) => all.reduce((n, a) => n + f(a.result!), 0);
    const perSecond: number[] = [];
    for (const a of all) a.result!.perSecond.forEach((n, i) => (perSecond[i] = (perSecond[i] ?? 0) + n));
    return {
      ms: Math.max(...all.map((a) => a.result!.ms)),
      ok: sum((r) => r.ok),
      failed: sum((r) => r.failed),
      lost: sum((r) => r.lost),
      punches: sum((r) => r.punches),
      tests: sum((r) => r.tests),
      resent: sum((r) => r.resent ?? 0),
      undecryptable: sum((r) => r.undecryptable),
      perSecond,
      lhCpu: (after.cpuMs - before.cpuMs) / wallMs,
      benchCpu: (bench.user + bench.system) / 1000 / wallMs,
      lhCpuMs: after.cpuMs - before.cpuMs,
      benchCpuMs: (bench.user + bench.system) / 1000,
    };
  };
  const cpu = (p: { lhCpu: number; benchCpu: number }) => `lighthouse CPU ${(p.lhCpu * 100).toFixed(0)} % of a core, bench ${(p.benchCpu * 100).toFixed(0)} %`;
  const memory = () => {
    const s = lighthouseStats(pid);
    return `lighthouse RSS ${mib(s.rss)} MiB (peak ${mib(s.hwm)} MiB)`;
  };

  const hs = await phase({ cmd: 'handshakes' }, PHASE_LIMIT_MS + 60_000);
  say(`handshakes: ${hs.ok} of ${hosts} up (${hs.failed} gave up, ${hs.undecryptable} bad message 2s) in ${(hs.ms / 1000).toFixed(1)} s = ${Math.round((hs.ok * 1000) / hs.ms)}/s; ${cpu(hs)}, ${hs.ok > 0 ? (hs.lhCpuMs / hs.ok).toFixed(2) : '-'} ms of lighthouse CPU per handshake; ${memory()}; load ${load()}`);
  if (hs.ok === 0) throw new Error(`no tunnel came up; the lighthouse's log:\n${log().slice(-4000)}`);
  const up = await phase({ cmd: 'updates' }, PHASE_LIMIT_MS + 60_000);
  say(`updates: ${up.ok} sent in ${(up.ms / 1000).toFixed(1)} s = ${Math.round((up.ok * 1000) / up.ms)}/s (${up.lost} chunk checks unanswered); ${cpu(up)}`);
  const held = await phase({ cmd: 'held' }, 3 * PHASE_LIMIT_MS + 60_000);
  say(`held: ${held.ok} of ${hs.ok} hosts answered with both reported addresses (${held.failed} not after 3 passes; ${held.resent} updates sent again) in ${(held.ms / 1000).toFixed(1)} s; ${cpu(held)}; ${memory()}`);

  /** CPU time per 1000 answered queries (ms): less sensitive to the machine's load than the rate. */
  const per1000 = (cpuMs: number, answered: number) => (answered > 0 ? Math.round((cpuMs * 1000) / answered) : 0);
  const roundResults: { rate: number; median: number; lost: number; lhCpu: number; benchCpu: number; lhCpuMsPer1000: number; benchCpuMsPer1000: number; load: string }[] = [];
  for (let r = 1; r <= rounds; r++) {
    const q = await phase({ cmd: 'queries', seconds }, seconds * 1000 + 60_000);
    const rate = Math.round((q.ok * 1000) / q.ms);
    const lhCpuMsPer1000 = per1000(q.lhCpuMs, q.ok);
    const benchCpuMsPer1000 = per1000(q.benchCpuMs, q.ok);
    roundResults.push({ rate, median: median(q.perSecond), lost: q.lost, lhCpu: q.lhCpu, benchCpu: q.benchCpu, lhCpuMsPer1000, benchCpuMsPer1000, load: load() });
    say(`round ${r}: ${rate} queries/s answered end to end (1 s samples: median ${median(q.perSecond)}, min ${Math.min(...q.perSecond)}, max ${Math.max(...q.perSecond)}); ${q.lost} lost, ${q.punches} punch notifications, ${q.tests} liveness tests answered, ${q.undecryptable} undecryptable; ${cpu(q)}; CPU per 1000 queries: lighthouse ${lhCpuMsPer1000} ms, bench ${benchCpuMsPer1000} ms; load ${load()}`);
  }
  const final = lighthouseStats(pid);
  const logLines = log().split('\n').filter(Boolean);
  const warnings = logLines.filter((l) => /"level":(40|50|60)/.test(l));
  const best = median(roundResults.map((r) => r.rate));
  // Who held the rate back: the lighthouse when its one thread was busy; the CPUs when the
  // lighthouse and the bench together used them all; other processes when the load average is
  // more than one above what this bench itself keeps busy; else the bench's own latency.
  const lhBusy = median(roundResults.map((r) => r.lhCpu));
  const used = lhBusy + median(roundResults.map((r) => r.benchCpu));
  const load1 = loadavg()[0]!;
  const busy = `lighthouse ${(lhBusy * 100).toFixed(0)} % of a core, lighthouse + bench ${used.toFixed(1)} of ${cpus().length} CPUs, load ${load1.toFixed(1)}`;
  const limit =
    lhBusy > 0.9
      ? `the lighthouse (${busy})`
      : used > 0.9 * cpus().length
        ? `the CPUs, shared by the lighthouse and the bench (${busy})`
        : load1 - used > 1
          ? `other processes on the machine (about ${(load1 - used).toFixed(1)} runnable besides this bench; ${busy})`
          : `the bench's latency: raise --window (${busy})`;
  const lhPer1000 = median(roundResults.map((r) => r.lhCpuMsPer1000));
  say(`summary: ${held.ok} hosts held, ${best} queries/s (median of ${rounds} rounds), lighthouse ${lhPer1000} ms CPU per 1000 queries (${lhPer1000 > 0 ? Math.round(1_000_000 / lhPer1000) : 0} queries per lighthouse CPU-second), lighthouse RSS ${mib(final.rss)} MiB (peak ${mib(final.hwm)} MiB); limit: ${limit}; ${warnings.length} lighthouse warnings; ${((performance.now() - started) / 1000).toFixed(0)} s in all`);
  for (const w of warnings.slice(0, 5)) say(`  ${w}`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ hosts, up: hs.ok, handshakesPerSecond: Math.round((hs.ok * 1000) / hs.ms), lighthouseCpuMsPerHandshake: hs.ok > 0 ? hs.lhCpuMs / hs.ok : null, bin, held: held.ok, lighthouseCpuMsPer1000Queries: lhPer1000, rounds: roundResults, rssBytes: final.rss, peakRssBytes: final.hwm, warnings: warnings.length }, null, 2));

  for (const w of workers) w.postMessage({ cmd: 'stop' });
  await within(Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve)))), 10_000, 'workers stopping');
  child.kill('SIGTERM');
  await within(new Promise((resolve) => child.once('exit', resolve)), 10_000, 'the lighthouse stopping');
}

if (isMainThread) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
} else {
  worker(workerData as Setup).catch((err) => {
    parentPort!.postMessage({ error: (err as Error).stack ?? String(err) });
  });
}
