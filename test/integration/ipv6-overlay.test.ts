/**
 * Issue 16 part 3, done when: two mesh nodes with v2 certificates carrying an IPv4 and an IPv6
 * network reach each other over both, in namespaces with real TUNs, through a mesh lighthouse
 * (root only; skips with the reason otherwise). The nodes know only the lighthouse: the first
 * packet to the peer's IPv6 address asks the lighthouse about that address (a v2 tunnel, 128-bit
 * Addr fields), and the firewall passes IPv6 only where a rule says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../../src/lab/lab.js';
import type { FirewallRule } from '../../src/lab/configs.js';
import { withOverlayLab } from '../../src/lab/overlay.js';
import { skipTest } from '../helpers/skip.js';

const TCP_PORT = 9160;
const UDP_PORT = 9161;
const BYTES = 4 * 1024 * 1024;

/** A UDP echo over the overlay: the server answers each datagram, the client prints the answer (or "timeout"). */
const UDP_SERVER = `
const s = require('node:dgram').createSocket('udp6');
s.on('message', (m, r) => s.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
s.bind(Number(process.argv[2]), process.argv[1], () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));`;
const UDP_CLIENT = `
const s = require('node:dgram').createSocket('udp6');
const again = setInterval(() => s.send('ping6', Number(process.argv[2]), process.argv[1]), 200);
const give = setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);
s.on('message', (m) => { clearInterval(again); clearTimeout(give); console.log(m.toString()); process.exit(0); });
s.bind(0, () => s.send('ping6', Number(process.argv[2]), process.argv[1]));`;

test('v2 certificates with an IPv4 and an IPv6 network: ping, ping -6, TCP and UDP over IPv6 through a mesh lighthouse', { timeout: 120_000 }, async (t) => {
  const reason = await labSkipReason({ commands: ['ping'] });
  if (reason) {
    skipTest(t, reason);
    return;
  }
  await withOverlayLab(t, { net: 61, certVersion: 2, ipv6: true, namePrefix: 'v6o' }, async (lab) => {
    const inboundV6: FirewallRule[] = [
      { port: 'any', proto: 'icmp', host: 'any' },
      { port: TCP_PORT, proto: 'tcp', cidr: 'fd31:61::/64' },
      { port: UDP_PORT, proto: 'udp', host: 'any', local_cidr: 'fd31:61::/64' },
    ];
    await lab.addHost('lh', { amLighthouse: true });
    await lab.addHost('a', { lighthouses: ['lh'], inbound: inboundV6 });
    await lab.addHost('b', { lighthouses: ['lh'], inbound: inboundV6 });
    await lab.start('lh');
    await lab.start('a');
    await lab.start('b');

    // The TUN carries both networks of the certificate.
    const addrs = await lab.lab.execOk(lab.host('a').ns, 'ip', ['-o', 'addr', 'show', 'dev', lab.host('a').tunDev]);
    assert.match(addrs, new RegExp(`inet ${lab.host('a').vpnIp.replaceAll('.', '\\.')}/24`), addrs);
    assert.match(addrs, /inet6 fd31:61::2\/64/, addrs);

    // IPv6 first: a knows b only by its IPv6 address, which the lighthouse answers for.
    await lab.waitForPing('a', 'b', 20_000, 6);
    await lab.waitForPing('b', 'a', 20_000, 6);
    await lab.waitForPing('a', 'b', 20_000, 4);
    await lab.waitForPing('b', 'a', 20_000, 4);
    assert.match(lab.log('a'), /certVersion=2/, 'a v2 tunnel');
    // One tunnel to b serves both of its addresses: a initiated two tunnels, to lh and to b.
    assert.equal(lab.log('a').match(/tunnel up \(initiator\)/g)?.length, 2, lab.logTail('a'));

    // Listening on both ports: only the firewall keeps the second one out.
    await lab.tcpServe('b', [TCP_PORT, TCP_PORT + 10], 6);
    const r = await lab.tcpSend('a', 'b', TCP_PORT, BYTES, 5000, 60_000, 6);
    assert.equal(r.connected, true, r.error);
    assert.equal(r.received, BYTES);
    assert.equal(r.receivedSha256, r.sentSha256);

    const b6 = lab.overlayAddress('b', 6);
    const server = lab.lab.spawn(lab.host('b').ns, process.execPath, ['-e', UDP_SERVER, b6, String(UDP_PORT)]);
    t.after(() => server.kill('SIGTERM'));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('UDP server did not start')), 5000);
      server.stdout!.on('data', () => (clearTimeout(timer), resolve()));
    });
    const echo = await lab.lab.execOk(lab.host('a').ns, process.execPath, ['-e', UDP_CLIENT, b6, String(UDP_PORT)], { timeoutMs: 10_000 });
    assert.equal(echo.trim(), 'echo:ping6');

    // The firewall: b's rules allow TCP over IPv6 only on TCP_PORT; the SYN is dropped, not refused.
    const dropped = await lab.tcpSend('a', 'b', TCP_PORT + 10, 1000, 1500, 10_000, 6);
    assert.deepEqual(dropped, { connected: false, error: 'timeout' });
  });
});
