/**
 * The entry of the V8 start-up snapshot (dist/bundle/mesh.blob; scripts/bundle.mjs bundles this
 * file into one CommonJS script, scripts/build-snapshot.mjs runs it under `node --build-snapshot`).
 * The launcher starts every command but the short-lived ones (src/cli/snapshot-tools.ts) from it.
 * At build time it evaluates the modules that `mesh node` runs on, with the Node built-ins and the
 * logger it uses, and runs each costly first use once (a YAML parse, a certificate decode, a text
 * log line, a whole tunnel in memory: src/cli/rehearse-tunnel.ts) so that the blob holds their
 * compiled code: a start from the blob neither compiles nor runs any of it again.
 *
 * What the snapshot holds is frozen at build time, so nothing here may keep process state: no
 * sockets, file descriptors or native addon (they come after deserialisation, on first use), no
 * timer ever run (Node keeps a cleared unref'd timer's list, which would arm nothing after a start:
 * the tunnel's nodes get timers that never fire), no key or random value (nor node:crypto's
 * randomInt or randomUUID, whose caches would be frozen full: the node draws with randomBytes), no
 * environment. pino reads the pid and host name when loaded; mesh logs neither (src/log.ts).
 */
import { Writable } from 'node:stream';
import { marshalCertificate } from '../../pki/cert.js';
import { createLogger } from '../log.js';
import { decodeHandshake, decodeMeta, encodeHandshake, encodeMeta } from '../protocol/messages.js';
import { parseYaml } from '../yaml.js';
import { COMMANDS } from './commands.js';
import { buildProgram } from './main.js';
import { rehearseTunnel } from './rehearse-tunnel.js';
import { startFromSnapshot, warmUpCertificate } from './snapshot-start.js';

/** A config of the usual shape: block and flow collections, a literal block, quoted keys. */
const SAMPLE_CONFIG = `pki:
  ca: |
    first line
    second line
  cert: /etc/nebula/host.crt
static_host_map:
  "10.88.0.1": ["172.31.88.1:4242"]
lighthouse: {am_lighthouse: false, interval: 60, hosts: []}
listen:
  host: 0.0.0.0
  port: 4242
tun: {disabled: false, dev: nebula1, mtu: 1300, routes: [], unsafe_routes: []}
logging:
  level: info
  format: text
firewall:
  outbound:
    - port: any
      proto: any
      host: any
  inbound:
    - {port: any, proto: icmp, host: any}
`;

/**
 * The first YAML parse, certificate decode, text log line and handshake and lighthouse message
 * encode/decode of a node start, then a whole tunnel (a node's start, first handshake and
 * packets), done here once: V8 compiles each function on its first call (the protobuf code
 * generated from the .proto files too), and the blob keeps what it compiled.
 */
async function warmUp(): Promise<void> {
  // net's Server.listen requires cluster (and five modules of its own) on first use: the control
  // socket would compile them right after the TUN comes up, when a first packet may be waiting.
  // (An `import 'node:cluster'` would be dropped by the bundler: it takes built-ins as side-effect
  // free.) cluster reads NODE_UNIQUE_ID when loaded, which the blob then freezes: mesh forks no workers.
  process.getBuiltinModule('node:cluster');
  parseYaml(SAMPLE_CONFIG);
  const cert = marshalCertificate(warmUpCertificate());
  decodeHandshake(encodeHandshake({ details: { cert, initiatorIndex: 1, responderIndex: 2, cookie: 0n, time: 1n, certVersion: 1 }, hmac: new Uint8Array(0) }));
  decodeMeta(encodeMeta(1, { vpnIp: 1, ip4AndPorts: [{ ip: 1, port: 1 }], counter: 0, ip6AndPorts: [], relayVpnIps: [] }));
  const log = await createLogger({ format: 'text', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
  log.info({ snapshot: true }, 'warm-up');
  await rehearseTunnel(log);
}

// A failure rejects unhandled: node exits non-zero and writes no blob (build-snapshot.mjs warns).
void buildProgram(['node'], COMMANDS)
  .then(warmUp)
  .then(() => startFromSnapshot(COMMANDS));
