import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { MemoryNetwork } from '../../../src/io/memory.js';
import { parseCidr, parseIp } from '../../../src/net/ipv4.js';
import { startMemoryNode, waitFor, type MemoryNode } from '../../helpers/memory-mesh.js';
import { icmpEcho, parseIpv4 } from '../../helpers/packets.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';

const ca = makeCA('Container CA', { ips: ['10.42.0.0/16'], subnets: ['10.200.0.0/16'] });
const lh = makeHost(ca, 'lh', '10.42.0.100/16');
const hostA = makeHost(ca, 'a', '10.42.0.1/16', { subnets: ['10.200.1.0/24'] });
const hostB = makeHost(ca, 'b', '10.42.0.2/16', { subnets: ['10.200.2.0/24'], groups: ['web'] });
const RANGE = [parseCidr('10.200.0.0/16')];

let running: MemoryNode[] = [];
afterEach(async () => {
  for (const n of running) await n.stop();
  running = [];
});

async function cluster(net: MemoryNetwork) {
  const lighthouse = await startMemoryNode(net, lh, '192.0.2.100', { amLighthouse: true });
  const viaLighthouse = { staticHostMap: { '10.42.0.100': ['192.0.2.100:4242'] }, lighthouses: ['10.42.0.100'] };
  const a = await startMemoryNode(net, hostA, '192.0.2.1', viaLighthouse);
  const b = await startMemoryNode(net, hostB, '192.0.2.2', viaLighthouse);
  running.push(lighthouse, a, b);
  for (const n of [a, b]) n.node.subnets.setRanges(RANGE);
  // b talks to the lighthouse once, so the lighthouse holds its certificate.
  b.tun.inject([icmpEcho('10.42.0.2', '10.42.0.100', 8, 1, 1)]);
  await waitFor(() => lighthouse.node.hostmap.get(parseIp('10.42.0.2'))?.established === true, 3000, 'b registered');
  return { lighthouse, a, b };
}

describe('container subnets and names through a lighthouse (mesh extension)', () => {
  it('routes a packet for another host\'s container subnet after asking the lighthouse who owns it', async () => {
    const net = new MemoryNetwork();
    const { a, b } = await cluster(net);
    assert.equal(a.node.subnets.ownerOf(parseIp('10.200.2.7')), null);
    a.tun.inject([icmpEcho('10.200.1.5', '10.200.2.7', 8, 9, 1)]);
    await waitFor(() => b.tun.written.some((p) => parseIpv4(p).dst === '10.200.2.7'), 3000, 'packet at b');
    assert.equal(a.node.subnets.ownerOf(parseIp('10.200.2.7')), parseIp('10.42.0.2'));
    // The reply takes the route b learned from a's certificate, with no query.
    b.tun.inject([icmpEcho('10.200.2.7', '10.200.1.5', 0, 9, 1)]);
    await waitFor(() => a.tun.written.some((p) => parseIpv4(p).dst === '10.200.1.5'), 3000, 'reply at a');
    // Nobody owns 10.200.9.0/24: the packet is held briefly, then dropped; outside the range it is not held at all.
    a.tun.inject([icmpEcho('10.200.1.5', '10.200.9.1', 8, 9, 2)]);
    assert.equal(a.node.subnets.hold(parseIp('10.99.0.1'), Buffer.alloc(20)), false);
    await waitFor(() => (a.node.stats.dropped['subnet-unknown'] ?? 0) === 1, 5000, 'unknown subnet dropped');
  });

  it('resolves container names published by another host, and keeps only names in the publisher\'s own subnets', async () => {
    const net = new MemoryNetwork();
    const { lighthouse, a, b } = await cluster(net);
    b.node.names.publish([
      { name: 'Web', ips: [parseIp('10.200.2.7')] },
      { name: 'forged', ips: [parseIp('10.200.1.99')] },
    ]);
    await waitFor(() => lighthouse.lighthouse!.server.directory.names === 1, 3000, 'names at the lighthouse');
    assert.deepEqual(await a.node.names.resolve('web'), [parseIp('10.200.2.7')]);
    assert.deepEqual(await a.node.names.resolve('forged'), []);
    assert.deepEqual(await a.node.names.resolve('nobody'), []);
    // b's tunnel to the lighthouse goes: so do its names.
    await b.stop();
    running = running.filter((n) => n !== b);
    await waitFor(() => lighthouse.lighthouse!.server.directory.names === 0, 3000, 'names forgotten');
  });
});
