/**
 * A whole tunnel run in memory while the start-up snapshot is built (src/cli/snapshot.ts), so that
 * the blob holds a node's start, first handshake and first packets compiled. Nothing here may leave
 * process state behind (see snapshot.ts): every object it makes is garbage when it returns.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import type { Logger } from 'pino';
import { certificateFingerprint, forgetCAKeyObjects, marshalDetails, type Certificate, type CertificateDetails } from '../../pki/cert.js';
import { encodeCertificatePem, encodeX25519PrivateKeyPem } from '../../pki/keys.js';
import { MemoryNetwork, MemoryTun } from '../io/memory.js';
import { internetChecksum } from '../net/checksum.js';
import { parseIpNetwork } from '../net/ip.js';
import { parseIp } from '../net/ipv4.js';
import { parseConfig } from '../node/config.js';
import type { Timers } from '../node/timers.js';
import { forgetImportedKeys, generateKeyPair } from '../protocol/noise.js';
import { startMesh } from './assemble.js';

/**
 * The rehearsal's nodes get timers that never fire. A timer run here would leave its emptied list in
 * Node's timer map (unref'd lists are kept when their last timer is cleared), with the build's
 * expiry: after a start from the blob, a timer of that duration would join the stale list and never
 * be armed. The handshake and pings need none: the in-memory network delivers on setImmediate.
 */
const silentTimers: Timers = {
  after: () => ({ cancel: () => {} }),
  every: () => ({ cancel: () => {} }),
  now: () => Date.now(),
};

/**
 * Two nodes on an in-memory network (src/io/memory.ts) start from a parsed config, handshake, carry
 * one ping each way through their firewalls and stop: the code of a node's start and of its first
 * handshake and packets runs here once, so the blob holds it compiled. Without this, a node compiles
 * a few hundred functions lazily on the first handshake after a start, several milliseconds on each
 * side of the first ping. The certificates are signed with node:crypto, not the CLI's signer: noble's
 * Ed25519 keeps a table of precomputed points that would grow the blob.
 */
export async function rehearseTunnel(log: Logger): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const caKey = generateKeyPairSync('ed25519');
  const details = (name: string, network: string, publicKey: Uint8Array, issuer: string): CertificateDetails => ({
    version: 1,
    name,
    networks: network ? [parseIpNetwork(network)] : [],
    unsafeNetworks: [],
    groups: [],
    notBefore: now - 60,
    notAfter: now + 3600,
    publicKey,
    curve: 'CURVE25519',
    isCA: !issuer,
    issuer,
  });
  const signed = (d: CertificateDetails): Certificate => ({ details: d, signature: new Uint8Array(sign(null, marshalDetails(d), caKey.privateKey)) });
  const ca = signed(details('snapshot ca', '', Buffer.from(caKey.publicKey.export({ format: 'jwk' }).x!, 'base64url'), ''));
  const issuer = certificateFingerprint(ca);
  const net = new MemoryNetwork({ record: false });
  const hosts = [
    { vpnIp: '10.1.0.1', underlay: '192.0.2.1', tun: undefined as MemoryTun | undefined },
    { vpnIp: '10.1.0.2', underlay: '192.0.2.2', tun: undefined as MemoryTun | undefined },
  ];
  const anyone = [{ port: 'any', proto: 'any', host: 'any' }];
  const meshes = [];
  try {
    for (const [i, host] of hosts.entries()) {
      const keys = generateKeyPair();
      const peer = hosts[1 - i]!;
      const raw = {
        pki: { ca: encodeCertificatePem(ca), cert: encodeCertificatePem(signed(details(`snapshot${i}`, `${host.vpnIp}/16`, keys.publicKey, issuer))), key: encodeX25519PrivateKeyPem(keys.privateKey) },
        static_host_map: { [peer.vpnIp]: [`${peer.underlay}:4242`] },
        listen: { host: host.underlay, port: 4242 },
        tun: { dev: `snapshot${i}` },
        logging: { level: 'info', format: 'text' },
        firewall: { outbound: anyone, inbound: anyone },
      };
      meshes.push(
        await startMesh(parseConfig(raw, 'snapshot').config, log, {
          timers: silentTimers,
          openTun: (options) => (host.tun = new MemoryTun(options)),
          bindUdp: async (options) => net.bind(host.underlay, options.port),
        }),
      );
    }
    const [a, b] = hosts;
    const request = icmpEcho(b!.vpnIp, a!.vpnIp, 8);
    b!.tun!.inject([request]);
    await until(() => a!.tun!.written.some((p) => p.equals(request)));
    const reply = icmpEcho(a!.vpnIp, b!.vpnIp, 0);
    a!.tun!.inject([reply]);
    await until(() => b!.tun!.written.some((p) => p.equals(reply)));
  } finally {
    for (const mesh of meshes) await mesh.stop();
    // KeyObjects are native handles, which a snapshot cannot hold.
    forgetImportedKeys();
    forgetCAKeyObjects();
  }
}

/** An IPv4 ICMP echo request (8) or reply (0) with valid checksums. */
function icmpEcho(from: string, to: string, type: 0 | 8): Buffer {
  const p = Buffer.alloc(36);
  p.writeUInt8(0x45, 0);
  p.writeUInt16BE(p.length, 2);
  p.writeUInt8(64, 8);
  p.writeUInt8(1, 9);
  p.writeUInt32BE(parseIp(from), 12);
  p.writeUInt32BE(parseIp(to), 16);
  p.writeUInt16BE(internetChecksum(p, 0, 20), 10);
  p.writeUInt8(type, 20);
  p.writeUInt16BE(1, 24);
  p.writeUInt16BE(1, 26);
  p.write('snapshot', 28);
  p.writeUInt16BE(internetChecksum(p, 20, p.length), 22);
  return p;
}

/**
 * Resolves once `done()` holds, polling on setImmediate (no timer: see silentTimers); rejects after
 * 10 s (the build then fails and writes no blob).
 */
async function until(done: () => boolean): Promise<void> {
  for (const end = Date.now() + 10_000; !done(); ) {
    if (Date.now() > end) throw new Error('snapshot: the in-memory tunnel rehearsal did not carry its ping');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
