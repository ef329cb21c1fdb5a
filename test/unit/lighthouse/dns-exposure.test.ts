import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { dnsReachableOutsideMesh, LighthouseDns } from '../../../lighthouse/dns.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';
import { cidrContains, parseCidr, parseIp } from '../../../src/net/ipv4.js';

const overlay = parseCidr('10.42.0.0/16');
const inVpnNetwork = (ip: number) => cidrContains(overlay, ip);

test('lighthouse DNS: loopback and overlay addresses stay inside the mesh, everything else does not', () => {
  for (const host of ['127.0.0.1', '127.0.0.53', '::1', '10.42.0.1']) assert.equal(dnsReachableOutsideMesh(host, inVpnNetwork), false, host);
  for (const host of ['', '0.0.0.0', '::', '192.168.1.10', '10.43.0.1', 'fd00::1']) assert.equal(dnsReachableOutsideMesh(host, inVpnNetwork), true, host);
});

test('mesh lighthouse DNS warns at start when it listens beyond loopback and the overlay', async () => {
  const ca = makeCA('DNS CA', { ips: ['10.42.0.0/16'] });
  const lh = makeHost(ca, 'lh', '10.42.0.1/16');
  const warningsFor = async (host: string): Promise<string[]> => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk)).msg), done()) }));
    const dns = await LighthouseDns.start(
      { diag: { drop: () => {} }, log, self: () => ({ cert: lh.cert, vpnAddrs: [parseIp('10.42.0.1')] }), connectedCert: () => null, hostNamed: () => undefined, inVpnNetwork },
      { host, port: 0 },
    );
    await dns.stop();
    return lines;
  };
  assert.deepEqual(await warningsFor('127.0.0.1'), []);
  const all = await warningsFor('');
  assert.equal(all.length, 1);
  assert.match(all[0]!, /lighthouse DNS is reachable from outside the mesh: .*set lighthouse\.dns\.host to this lighthouse's overlay IP/);
});
