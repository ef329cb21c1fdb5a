/**
 * Lighthouse end to end: a `mesh lighthouse` process on loopback and N simulated hosts, each with its
 * own certificate, that complete a real Noise IX handshake with it over UDP, send an encrypted
 * HostUpdateNotification, and then ask encrypted HostQuerys for random other hosts for --seconds.
 * Prints handshakes/s, hosts held (checked by sampled queries), queries answered per second end to
 * end (reply received and decrypted), and the lighthouse's RSS. Unlike bench/lighthouse.ts this
 * includes the network, the encryption and the lighthouse's whole receive path.
 *
 *   node dist/bench/lighthouse-e2e.js [--hosts 100000] [--seconds 20] [--window 256] [--sockets 256]
 *
 * The simulated hosts share one X25519 key (their certificates differ): key generation is not what
 * is measured, and the lighthouse still does every DH and certificate check per host. This process
 * shares the CPUs with the lighthouse; its own crypto is part of the figure.
 */
import { spawn } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { certificateFingerprint, ed25519Seed, marshalCertificate, marshalDetails, type Certificate, type CertificateDetails } from '../pki/cert.js';
import { ipNetworkFromCidr } from '../src/net/ip.js';
import { nebulaConfig } from '../src/lab/configs.js';
import { makeCA, makeHost } from '../src/lab/pki.js';
import { encodeHeader, HEADER_LEN, MessageType, parseHeader, writeHeader } from '../src/protocol/header.js';
import { decodeHandshake, decodeMeta, emptyMetaDetails, encodeHandshake, encodeMeta, MetaType } from '../src/protocol/messages.js';
import { generateKeyPair, initiatorReadMessage2, initiatorWriteMessage1, type HandshakeKeys, type InitiatorState } from '../src/protocol/noise.js';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '20' },
    window: { type: 'string', default: '256' },
    sockets: { type: 'string', default: '256' },
  },
});
const HOSTS = Number(values.hosts);
const SECONDS = Number(values.seconds);
const WINDOW = Number(values.window);
const SOCKETS = Number(values.sockets);
const RETRY_MS = 1000;
const MAX_ATTEMPTS = 5;
const NET = 0x0a000000; // 10.0.0.0/8; the lighthouse is 10.0.0.1, host i is 10.0.0.2 + i
const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));

interface SimHost {
  vpnIp: number;
  localIndex: number;
  socket: dgram.Socket;
  handshakeCert: Uint8Array;
  pending?: { state: InitiatorState; message: Buffer; sentAt: number; attempts: number };
  keys?: HandshakeKeys;
  remoteIndex: number;
  counter: number;
  query?: { target: number; sentAt: number };
}

const say = (text: string) => process.stdout.write(`${text}\n`);
const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);

/** Host certificates signed with node:crypto (the PKI's pure-JS signer is the slow part at 100k). */
function certificates(ca: ReturnType<typeof makeCA>, publicKey: Uint8Array): Uint8Array[] {
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), ed25519Seed(ca.key)]), format: 'der', type: 'pkcs8' });
  const issuer = certificateFingerprint(ca.cert);
  const { notBefore, notAfter } = ca.cert.details;
  const out: Uint8Array[] = [];
  for (let i = 0; i < HOSTS; i++) {
    const details: CertificateDetails = { version: 1, name: `sim${i}`, networks: [ipNetworkFromCidr({ ip: NET + 2 + i, bits: 8 })], unsafeNetworks: [], groups: [], notBefore, notAfter: notAfter - 1, publicKey, curve: 'CURVE25519', isCA: false, issuer };
    const cert: Certificate = { details, signature: sign(null, marshalDetails(details), key) };
    out.push(marshalCertificate(cert, { omitPublicKey: true }));
  }
  return out;
}

function lighthouseRss(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-bench-lh-'));
  const ca = makeCA('Bench CA', { ips: ['10.0.0.0/8'] });
  const lh = makeHost(ca, 'lighthouse', '10.0.0.1/8');
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  probe.close();
  const config = nebulaConfig({
    ca: lh.ca,
    cert: lh.certPem,
    key: lh.keyPem,
    listen: { host: '127.0.0.1', port },
    amLighthouse: true,
    tun: { disabled: true },
    logLevel: 'warning',
  });
  (config['listen'] as Record<string, unknown>)['read_buffer'] = 16 << 20;
  (config['listen'] as Record<string, unknown>)['write_buffer'] = 16 << 20;
  const configPath = join(dir, 'lighthouse.yml');
  writeFileSync(configPath, JSON.stringify(config));
  const logPath = join(dir, 'lighthouse.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(process.execPath, [BIN, 'lighthouse', '--config', configPath], { stdio: ['ignore', logFd, logFd] });
  const cleanup = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  process.on('exit', () => {
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  process.on('SIGINT', () => process.exit(130));

  const t0 = performance.now();
  const keyPair = generateKeyPair();
  const certs = certificates(ca, keyPair.publicKey);
  say(`signed ${HOSTS} host certificates in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const sockets: dgram.Socket[] = [];
  for (let i = 0; i < SOCKETS; i++) {
    // Each socket on its own loopback address: the lighthouse admits message 1s per source address.
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
    await new Promise<void>((resolve) => s.bind(0, `127.1.${i >> 8}.${(i & 255) + 1}`, resolve));
    sockets.push(s);
  }
  const hosts: SimHost[] = [];
  const byIndex = new Map<number, SimHost>();
  for (let i = 0; i < HOSTS; i++) {
    const host: SimHost = { vpnIp: NET + 2 + i, localIndex: i + 1, socket: sockets[i % SOCKETS]!, handshakeCert: certs[i]!, remoteIndex: 0, counter: 2 };
    hosts.push(host);
    byIndex.set(host.localIndex, host);
  }
  const send = (host: SimHost, data: Uint8Array) => host.socket.send(data, port, '127.0.0.1');
  const sendMeta = (host: SimHost, type: number, details: ReturnType<typeof emptyMetaDetails>) => {
    const counter = ++host.counter;
    send(host, host.keys!.encrypt.encryptPacket(encodeHeader(MessageType.LightHouse, 0, host.remoteIndex, counter), counter, encodeMeta(type, details)));
  };

  let up = 0;
  let answered = 0;
  let punches = 0;
  let emptyAnswers = 0;
  let undecryptable = 0;
  const onDatagram = (data: Buffer) => {
    const header = parseHeader(data);
    const host = header && byIndex.get(header.remoteIndex);
    if (!header || !host) return;
    if (header.type === MessageType.Handshake && header.counter === 2 && host.pending) {
      try {
        const { payload, keys } = initiatorReadMessage2(host.pending.state, data);
        host.remoteIndex = decodeHandshake(payload).details.responderIndex;
        host.keys = keys;
        host.pending = undefined;
        up++;
      } catch {
        undecryptable++;
      }
      return;
    }
    if (header.type !== MessageType.LightHouse || !host.keys) return;
    const plain = host.keys.decrypt.decryptPacket(data, header.counter);
    if (!plain) return void undecryptable++;
    const meta = decodeMeta(plain);
    if (meta.type === MetaType.HostPunchNotification) return void punches++;
    if (meta.type !== MetaType.HostQueryReply || host.query?.target !== meta.details.vpnIp) return;
    host.query = undefined;
    answered++;
    if (meta.details.ip4AndPorts.length === 0) emptyAnswers++;
  };
  for (const s of sockets) s.on('message', onDatagram);

  const child$ = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the lighthouse exited (${code}):\n${readFileSync(logPath, 'utf8')}`))));
  const until = async (done: () => boolean, step: () => void) => {
    while (!done()) {
      step();
      await Promise.race([new Promise((resolve) => setTimeout(resolve, 5)), child$]);
    }
  };

  // Handshakes: at most WINDOW in flight, retried after RETRY_MS.
  let next = 0;
  let inFlight = 0;
  let failed = 0;
  const handshakeStart = performance.now();
  const startHandshake = (host: SimHost) => {
    const payload = encodeHandshake({ details: { cert: host.handshakeCert, initiatorIndex: host.localIndex, responderIndex: 0, cookie: 0n, time: BigInt(Date.now()) * 1_000_000n } });
    const header = Buffer.alloc(HEADER_LEN);
    writeHeader(header, 0, MessageType.Handshake, 0, 0, 1);
    const { message, state } = initiatorWriteMessage1('aes', keyPair, header, payload);
    host.pending = { state, message, sentAt: performance.now(), attempts: 1 };
    send(host, message);
  };
  const pendingHosts = new Set<SimHost>();
  await until(
    () => next >= HOSTS && pendingHosts.size === 0,
    () => {
      const now = performance.now();
      for (const host of pendingHosts) {
        if (!host.pending) {
          pendingHosts.delete(host);
          inFlight--;
        } else if (now - host.pending.sentAt > RETRY_MS * 2 ** (host.pending.attempts - 1)) {
          if (host.pending.attempts >= MAX_ATTEMPTS) {
            host.pending = undefined;
            pendingHosts.delete(host);
            inFlight--;
            failed++;
          } else {
            host.pending.attempts++;
            host.pending.sentAt = now;
            send(host, host.pending.message);
          }
        }
      }
      while (inFlight < WINDOW && next < HOSTS) {
        const host = hosts[next++]!;
        startHandshake(host);
        pendingHosts.add(host);
        inFlight++;
      }
    },
  );
  const handshakeMs = performance.now() - handshakeStart;
  say(`handshakes: ${up} of ${HOSTS} up (${failed} gave up) in ${(handshakeMs / 1000).toFixed(1)} s = ${rate(up, handshakeMs)}/s`);
  if (up < 2) throw new Error(`no tunnels came up; the lighthouse's log:\n${readFileSync(logPath, 'utf8')}`);

  // Host updates: two reported addresses each, paced so the lighthouse's buffer is not the limit.
  const live = hosts.filter((h) => h.keys);
  for (let i = 0; i < live.length; i++) {
    const host = live[i]!;
    const ip4AndPorts = [{ ip: 0xc0a80000 + (i & 0xffff), port: 4242 }, { ip: 0xac100000 + (i & 0xffff), port: 4243 }];
    sendMeta(host, MetaType.HostUpdateNotification, { ...emptyMetaDetails(), vpnIp: host.vpnIp, ip4AndPorts });
    if (i % 256 === 255) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await new Promise((resolve) => setTimeout(resolve, 2000));

  // Queries: WINDOW hosts each keep one HostQuery for a random other host outstanding.
  const pick = () => live[Math.floor(Math.random() * live.length)]!;
  const querying = new Set<SimHost>();
  let lost = 0;
  const ask = () => {
    const querier = pick();
    if (querier.query) return;
    let target = pick();
    if (target === querier) target = pick();
    querier.query = { target: target.vpnIp, sentAt: performance.now() };
    querying.add(querier);
    sendMeta(querier, MetaType.HostQuery, { ...emptyMetaDetails(), vpnIp: target.vpnIp });
  };
  const queryStart = performance.now();
  let sample = { at: queryStart, answered: 0 };
  const perSecond: number[] = [];
  await until(
    () => performance.now() - queryStart >= SECONDS * 1000,
    () => {
      const now = performance.now();
      for (const q of querying) {
        if (!q.query) querying.delete(q);
        else if (now - q.query.sentAt > RETRY_MS) {
          q.query = undefined;
          querying.delete(q);
          lost++;
        }
      }
      for (let i = querying.size; i < WINDOW; i++) ask();
      if (now - sample.at >= 1000) {
        perSecond.push(rate(answered - sample.answered, now - sample.at));
        sample = { at: now, answered };
      }
    },
  );
  const queryMs = performance.now() - queryStart;
  const memory = lighthouseRss(child.pid!);
  const held = answered > 0 ? `~${live.length - Math.round((live.length * emptyAnswers) / answered)}` : 'unknown (no answers)';
  perSecond.sort((a, b) => a - b);
  say(`queries: ${answered} answered in ${(queryMs / 1000).toFixed(1)} s = ${rate(answered, queryMs)}/s end to end (per second: min ${perSecond[0]}, median ${perSecond[perSecond.length >> 1]}, max ${perSecond[perSecond.length - 1]}); ${lost} lost, ${emptyAnswers} empty answers, ${punches} punch notifications, ${undecryptable} undecryptable`);
  say(`hosts held: ${held} of ${live.length} (answers with addresses); lighthouse RSS ${mib(memory.rss)} MiB, peak ${mib(memory.hwm)} MiB`);
  say(`lighthouse log (warnings and errors): ${readFileSync(logPath, 'utf8').split('\n').filter(Boolean).length} lines; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const s of sockets) s.close();
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
