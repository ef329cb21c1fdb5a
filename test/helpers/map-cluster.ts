/** A small in-memory mesh with a mapped lighthouse, for the lighthouse.web tests. */
import assert from 'node:assert/strict';
import type { MemoryNetwork } from '../../src/io/memory.js';
import { parseIp } from '../../src/net/ipv4.js';
import { makeCA, makeHost } from '../../src/lab/pki.js';
import { startMemoryNode, waitFor } from './memory-mesh.js';
import { icmpEcho, parseIpv4 } from './packets.js';

const ca = makeCA('Map CA', { ips: ['10.42.0.0/16'], subnets: ['10.200.0.0/16'] });
const lh = makeHost(ca, 'lh', '10.42.0.100/16', { groups: ['infra'] });
const hostA = makeHost(ca, 'a', '10.42.0.1/16', { subnets: ['10.200.1.0/24'] });
const hostB = makeHost(ca, 'b', '10.42.0.2/16', { subnets: ['10.200.2.0/24'], groups: ['web'] });

/** A memory lighthouse with lighthouse.web on 127.0.0.1 (any port), and hosts a and b registered with it. */
/** The caller stops the three nodes. */
export async function mapCluster(net: MemoryNetwork) {
  const lighthouse = await startMemoryNode(net, lh, '192.0.2.100', {
    amLighthouse: true,
    extra: { lighthouse: { am_lighthouse: true, web: { enabled: true, listen: '127.0.0.1', port: 0 } } },
  });
  const viaLighthouse = { staticHostMap: { '10.42.0.100': ['192.0.2.100:4242'] }, lighthouses: ['10.42.0.100'] };
  const a = await startMemoryNode(net, hostA, '192.0.2.1', viaLighthouse);
  const b = await startMemoryNode(net, hostB, '192.0.2.2', viaLighthouse);
  a.tun.inject([icmpEcho('10.42.0.1', '10.42.0.2', 8, 1, 1)]);
  await waitFor(() => b.tun.written.some((p) => parseIpv4(p).src === '10.42.0.1'), 3000, 'a reaches b');
  b.node.names.publish([{ name: 'shop', ips: [parseIp('10.200.2.7')] }]);
  // An update with RTT probes, then one that carries the measured round trips.
  a.node.lighthouseClient.sendUpdate();
  b.node.lighthouseClient.sendUpdate();
  await waitFor(() => a.node.hostmap.get(parseIp('10.42.0.2'))?.lastRttMs != null, 3000, 'a measured its RTT to b');
  a.node.lighthouseClient.sendUpdate();
  b.node.lighthouseClient.sendUpdate();
  const web = lighthouse.lighthouse!.web!;
  assert.ok(web, 'lighthouse.web started');
  const base = `http://127.0.0.1:${web.port}`;
  await waitFor(() => lighthouse.lighthouse!.server.directory.reportOf(parseIp('10.42.0.1'))?.tunnels.some((t) => t.rttMicros > 0) === true, 3000, 'reports at the lighthouse');
  return { lighthouse, a, b, base };
}

