import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { afterEach, describe, it } from 'node:test';
import { MemoryNetwork } from '../../../src/io/memory.js';
import { parseIp } from '../../../src/net/ipv4.js';
import { MessageType } from '../../../src/protocol/header.js';
import { decodeMeta, formatIp4AndPort, formatIp6AndPort, MetaType } from '../../../src/protocol/messages.js';
import { startMemoryNode, waitFor, type MemoryNode } from '../../helpers/memory-mesh.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';

const ca = makeCA('Client CA', { ips: ['10.42.0.0/16'] });
const lhHost = makeHost(ca, 'lh', '10.42.0.1/16');
const hostA = makeHost(ca, 'a', '10.42.0.2/16');

let running: MemoryNode[] = [];
afterEach(async () => {
  for (const n of running) await n.stop();
  running = [];
});

function nic(address: string, internal = false): NetworkInterfaceInfo {
  const v6 = address.includes(':');
  return v6
    ? { address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal, cidr: `${address}/64`, scopeid: 0 }
    : { address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: `${address}/24` };
}

const interfaces = () => ({
  lo: [nic('127.0.0.1', true), nic('::1', true)],
  eth0: [nic('192.168.1.20'), nic('169.254.3.4'), nic('fe80::1%eth0'), nic('2001:db8::20')],
  docker0: [nic('172.17.0.1')],
  mesh0: [nic('10.42.0.2')],
  wlan0: [nic('198.51.100.20')],
});

async function client(net: MemoryNetwork, lighthouse: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<MemoryNode> {
  const n = await startMemoryNode(net, hostA, '192.0.2.2', {
    port: 0,
    staticHostMap: { [lhHost.ip]: ['192.0.2.1:4242'] },
    networkInterfaces: interfaces,
    extra: { lighthouse: { am_lighthouse: false, interval: 0, hosts: [lhHost.ip], ...lighthouse }, ...extra },
  });
  running.push(n);
  return n;
}

describe('LighthouseClient', () => {
  it('reports advertise_addrs, then allowed local addresses with the bound port, and its relays', async () => {
    const net = new MemoryNetwork();
    const a = await client(
      net,
      {
        advertise_addrs: ['203.0.113.7:0', '203.0.113.8:5000', '10.42.0.77:4242'],
        local_allow_list: { '198.51.100.0/24': false, interfaces: { 'docker.*': false } },
      },
      { relay: { relays: ['10.42.0.1'], am_relay: false } },
    );
    const port = a.node.listenPort;
    assert.notEqual(port, 0);
    const d = a.node.lighthouseClient.updateDetails();
    assert.equal(d.vpnIp, parseIp('10.42.0.2'));
    assert.deepEqual(d.ip4AndPorts.map(formatIp4AndPort), [`203.0.113.7:${port}`, '203.0.113.8:5000', `192.168.1.20:${port}`]);
    assert.deepEqual(d.ip6AndPorts.map(formatIp6AndPort), [`[2001:db8::20]:${port}`]);
    assert.deepEqual(d.relayVpnIps, [parseIp('10.42.0.1')]);
  });

  it('sends the update to the lighthouse at start, queued behind the handshake', async () => {
    const net = new MemoryNetwork();
    const a = await client(net, {}, { relay: { am_relay: true } });
    const pending = a.node.hostmap.getPending(parseIp(lhHost.ip));
    assert.ok(pending, 'a handshake towards the lighthouse started');
    assert.deepEqual(pending.queue.map((m) => m.type), [MessageType.LightHouse, MessageType.LightHouse]);
    const [update, report] = pending.queue.map((m) => decodeMeta(m.payload));
    assert.equal(update!.type, MetaType.HostUpdateNotification);
    assert.deepEqual(update!.details.relayVpnIps, [], 'a relay names no relays');
    // Then its tunnels for the map (none are up yet), and its NAT mapping (not known yet: 0, left out).
    assert.equal(report!.type, MetaType.MeshTunnelsReport);
    assert.equal(report!.details.vpnIp, parseIp('10.42.0.2'));
    assert.equal(report!.details.meshTunnels, undefined);
    assert.equal(report!.details.meshNatMapping, undefined);
  });

  it('on reload (SIGHUP) sends an update with the new advertise_addrs at once, to the new lighthouses too', async () => {
    const net = new MemoryNetwork();
    const a = await client(net, { advertise_addrs: ['203.0.113.7:4242'] });
    const pending = a.node.hostmap.getPending(parseIp(lhHost.ip))!;
    const updates = () => pending.queue.map((m) => decodeMeta(m.payload)).filter((m) => m.type === MetaType.HostUpdateNotification);
    assert.equal(updates().length, 1);
    const config = structuredClone(a.node.config);
    config.lighthouse.advertiseAddrs = [{ host: '203.0.113.9', port: 4242 }];
    config.lighthouse.hosts = [parseIp(lhHost.ip), parseIp('10.42.0.99')];
    config.staticHostMap.set(parseIp('10.42.0.99'), [{ host: '192.0.2.99', port: 4242 }]);
    await a.node.reload(config);
    assert.equal(updates().length, 2);
    const update = updates()[1]!;
    assert.deepEqual(update.details.ip4AndPorts.map(formatIp4AndPort).slice(0, 1), ['203.0.113.9:4242']);
    const added = a.node.hostmap.getPending(parseIp('10.42.0.99'));
    assert.ok(added, 'the new lighthouse gets a handshake at once');
    assert.equal(decodeMeta(added.queue[0]!.payload).type, MetaType.HostUpdateNotification);
    assert.deepEqual(a.node.hostmap.remotesFor(parseIp('10.42.0.99')).staticAddresses, [{ address: '192.0.2.99', port: 4242 }]);
  });

  it('queries the lighthouses when a handshake starts, but never for a lighthouse', async () => {
    const net = new MemoryNetwork();
    const a = await client(net, {});
    const lighthouse = a.node.hostmap.getPending(parseIp(lhHost.ip))!;
    const queued = () => lighthouse.queue.map((m) => decodeMeta(m.payload)).filter((m) => m.type === MetaType.HostQuery);
    assert.equal(queued().length, 0);
    a.node.handshakes.start(parseIp('10.42.0.3'));
    assert.deepEqual(queued().map((m) => m.details.vpnIp), [parseIp('10.42.0.3')]);
    await waitFor(() => queued().length >= 2, 3000, 'a query on the next attempt (no address known)');
  });
});
