/**
 * Hosts with v2 certificates carrying an IPv4 and an IPv6 network, on the in-memory network: IPv6
 * packets are routed to the host owning the address, found through the lighthouse by that address
 * (128-bit Addr fields on v2 tunnels), the host map and the lighthouse's book know each host by
 * every address, and the lighthouse DNS answers AAAA.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryNetwork } from '../../../src/io/memory.js';
import { parseIp6, parseVpnAddr } from '../../../src/net/ip.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';
import { DNS_LIGHTHOUSE, DnsTestClient } from '../../helpers/dns-client.js';
import { startMemoryNode, waitFor, type MemoryNode } from '../../helpers/memory-mesh.js';

const ca = makeCA('V6 CA', { version: 2 });
const lhHost = makeHost(ca, 'lh', '10.8.0.1/16,fd08::1/64');
const aHost = makeHost(ca, 'a', '10.8.0.2/16,fd08::2/64');
const bHost = makeHost(ca, 'b', '10.8.0.3/16,fd08::3/64');

/** An ICMPv6 echo request (128) or reply (129); mesh does not check the checksum, the kernel would. */
function icmp6Echo(src: string, dst: string, type: 128 | 129, seq: number): Buffer {
  const p = Buffer.alloc(48);
  p[0] = 0x60;
  p.writeUInt16BE(8, 4);
  p[6] = 58;
  p[7] = 64;
  Buffer.from(parseIp6(src)).copy(p, 8);
  Buffer.from(parseIp6(dst)).copy(p, 24);
  p[40] = type;
  p.writeUInt16BE(7, 44);
  p.writeUInt16BE(seq, 46);
  return p;
}

const isEcho6 = (p: Buffer, dst: string, type: number) => p[0]! >> 4 === 6 && Buffer.from(parseIp6(dst)).equals(p.subarray(24, 40)) && p[40] === type;

describe('IPv6 overlay with v2 certificates (in memory)', () => {
  let lh: MemoryNode;
  let a: MemoryNode;
  let b: MemoryNode;
  let dns: DnsTestClient;

  before(async () => {
    const net = new MemoryNetwork();
    lh = await startMemoryNode(net, lhHost, '192.0.2.1', DNS_LIGHTHOUSE);
    const viaLighthouse = { lighthouses: ['10.8.0.1'], staticHostMap: { '10.8.0.1': ['192.0.2.1:4242'] } };
    a = await startMemoryNode(net, aHost, '192.0.2.2', viaLighthouse);
    b = await startMemoryNode(net, bHost, '192.0.2.3', viaLighthouse);
    dns = await DnsTestClient.open();
  });

  after(async () => {
    dns?.close();
    for (const n of [a, b, lh]) await n?.stop();
  });

  it('an IPv6 packet reaches the host owning the address, found through the lighthouse, and its reply comes back', async () => {
    await waitFor(() => lh.lighthouse!.server.addressesOf(parseVpnAddr('10.8.0.3')) !== null, 3000, 'b registered at the lighthouse');
    assert.notEqual(lh.lighthouse!.server.addressesOf(parseVpnAddr('fd08::3')), null, 'the book answers for the IPv6 address too');
    a.tun.inject([icmp6Echo('fd08::2', 'fd08::3', 128, 1)]);
    await waitFor(() => b.tun.written.some((p) => isEcho6(p, 'fd08::3', 128)), 3000, 'the echo request at b');
    const tunnel = a.node.hostmap.get(parseVpnAddr('fd08::3'))!;
    assert.equal(tunnel.vpnIp, parseVpnAddr('10.8.0.3'), 'asked for by its IPv6 address, keyed by its first');
    assert.equal(a.node.hostmap.get(parseVpnAddr('10.8.0.3')), tunnel, 'one tunnel for both addresses');
    assert.equal(tunnel.addrForm, 'v2');
    b.tun.inject([icmp6Echo('fd08::3', 'fd08::2', 129, 1)]);
    await waitFor(() => a.tun.written.some((p) => isEcho6(p, 'fd08::2', 129)), 3000, 'the echo reply at a');
  });

  it('the TUN is opened with the IPv6 network of the certificate', () => {
    assert.deepEqual(a.tun.moreAddresses.map((n) => [n.addr, n.bits]), [[parseVpnAddr('fd08::2'), 64]]);
  });

  it('a packet for an IPv6 address nobody has is dropped without a handshake', async () => {
    const before = a.node.hostmap.pendingSize;
    a.tun.inject([icmp6Echo('fd08::2', 'fd99::9', 128, 2)]);
    await waitFor(() => (a.node.diag.stats.dropped['tun-no-route'] ?? 0) > 0, 2000, 'the drop');
    assert.equal(a.node.hostmap.pendingSize, before);
  });

  it('the lighthouse DNS answers A with the IPv4 and AAAA with the IPv6 addresses', async () => {
    await waitFor(() => lh.node.hostmap.get(parseVpnAddr('fd08::3'))?.established === true, 3000, 'b at the lighthouse');
    const port = lh.lighthouse!.dns!.port;
    const ask = async (name: string, type: 'A' | 'AAAA', id: number): Promise<unknown[]> => {
      const reply = await dns.query(port, name, type, id);
      return (reply.answers ?? []).map((r) => [r.type, 'data' in r ? r.data : null]);
    };
    assert.deepEqual(await ask('b', 'AAAA', 1), [['AAAA', 'fd08::3']]);
    assert.deepEqual(await ask('b', 'A', 2), [['A', '10.8.0.3']]);
    assert.deepEqual(await ask('lh', 'AAAA', 3), [['AAAA', 'fd08::1']]);
  });
});
