/**
 * Lighthouse address book under load, in process: N simulated hosts register (tunnel up plus a
 * HostUpdateNotification each), then random hosts query for random others through
 * LighthouseServer.handle(), each query decoded from its wire bytes like the node does. Replies and
 * punch notifications go to a counting fake send. Prints hosts held, memory and queries per second.
 *
 *   node dist/bench/lighthouse.js [--hosts 100000] [--queries 500000] [--addrs 2]
 */
import { LighthouseServer, type LighthouseNode } from '../lighthouse/server.js';
import type { HostInfo } from '../src/node/hostmap.js';
import { cidrContains, formatIp, parseCidr } from '../src/net/ipv4.js';
import { decodeMeta, encodeMeta, MetaType } from '../src/protocol/messages.js';
import { benchArgs } from './args.js';

const values = benchArgs('usage: node --expose-gc dist/bench/lighthouse.js [--hosts 100000] [--queries 500000] [--addrs 2]', {
  options: {
    hosts: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '500000' },
    addrs: { type: 'string', default: '2' },
  },
});
const hosts = Number(values.hosts);
const queries = Number(values.queries);
const addrsPerHost = Number(values.addrs);

const vpnNet = parseCidr('10.0.0.0/8');
let sentMessages = 0;
let sentBytes = 0;
const node: LighthouseNode = {
  sendOn: (_host, _type, _subtype, payload) => {
    sentMessages++;
    sentBytes += payload.length;
  },
  sendTo: (_vpnIp, _type, _subtype, payload) => {
    sentMessages++;
    sentBytes += payload.length;
  },
  remoteAllowed: () => true,
  diag: { drop: () => {} },
  inVpnNetworks: (ip) => typeof ip === 'number' && cidrContains(vpnNet, ip),
};

const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
function memory(): { rss: number; heap: number } {
  global.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

const before = memory();
const server = new LighthouseServer(node);
const infos: HostInfo[] = [];
const registerStart = performance.now();
for (let i = 0; i < hosts; i++) {
  const vpnIp = vpnNet.ip + 1 + i;
  // Public learned address (the NAT's), plus private interface addresses it reports.
  const info = { vpnIp, remote: { address: formatIp(0xc6336400 + (i % 60000)), port: 10000 + (i % 50000) } } as unknown as HostInfo;
  infos.push(info);
  server.onTunnelUp(info);
  const reported = Array.from({ length: addrsPerHost }, (_, k) => ({ ip: 0xc0a80000 + ((i + k) & 0xffff), port: 4242 }));
  const update = encodeMeta(MetaType.HostUpdateNotification, { vpnIp, ip4AndPorts: reported, counter: 0, ip6AndPorts: [], relayVpnIps: [] });
  server.handle(info, decodeMeta(update));
}
const registerMs = performance.now() - registerStart;
const held = memory();

// Pre-encoded queries, as they arrive from the wire (after decryption).
const queryBytes = Array.from({ length: 65536 }, (_, k) => encodeMeta(MetaType.HostQuery, { vpnIp: vpnNet.ip + 1 + ((k * 7919) % hosts), counter: 0, ip4AndPorts: [], ip6AndPorts: [], relayVpnIps: [] }));
function runQueries(n: number): number {
  const start = performance.now();
  for (let q = 0; q < n; q++) {
    const querier = infos[(q * 104729) % hosts]!;
    server.handle(querier, decodeMeta(queryBytes[q & 65535]!));
  }
  return performance.now() - start;
}
runQueries(Math.min(queries, 100_000)); // warm-up (and fills the reply caches)
sentMessages = 0;
sentBytes = 0;
const queryMs = runQueries(queries);
const after = memory();

const qps = queries / (queryMs / 1000);
console.log(`hosts held:        ${server.size}`);
console.log(`registration:      ${(hosts / (registerMs / 1000)).toFixed(0)} updates/s (${registerMs.toFixed(0)} ms)`);
console.log(`memory (book):     RSS ${mib(held.rss)} MiB (+${mib(held.rss - before.rss)}), heap ${mib(held.heap)} MiB (+${mib(held.heap - before.heap)})`);
console.log(`queries:           ${queries} in ${queryMs.toFixed(0)} ms = ${qps.toFixed(0)} queries/s (decode + answer + punch)`);
console.log(`sent:              ${sentMessages} messages, ${sentBytes} bytes`);
console.log(`memory (after):    RSS ${mib(after.rss)} MiB, heap ${mib(after.heap)} MiB`);
