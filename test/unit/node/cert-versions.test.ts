/**
 * Whole nodes on the in-memory network with v1, v2 and v1+v2 certificates: a host holding both
 * talks v1 to a v1-only peer and v2 to a v2-only peer at once, status says which version each
 * tunnel uses, and a SIGHUP reload with certificates that do not belong together changes nothing.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { MemoryNetwork } from '../../../src/io/memory.js';
import { parseIp } from '../../../src/net/ipv4.js';
import { parseConfig } from '../../../src/node/config.js';
import { nodeStatus } from '../../../src/node/status.js';
import { nebulaConfig } from '../../../src/lab/configs.js';
import { makeCA, makeHost, type TestHost } from '../../../src/lab/pki.js';
import { generateX25519KeyPair } from '../../../pki/keys.js';
import { startMemoryNode, waitFor, type MemoryNode } from '../../helpers/memory-mesh.js';
import { icmpEcho as echo } from '../../helpers/packets.js';

const v1ca = makeCA('v1 CA', { ips: ['10.50.0.0/16'] });
const v2ca = makeCA('v2 CA', { version: 2, ips: ['10.50.0.0/16'] });

/** A host with a certificate from each CA (one key), trusting `trusts`. */
function holding(name: string, ip: string, cas: (typeof v1ca)[], trusts: string): TestHost {
  const keys = generateX25519KeyPair();
  const certs = cas.map((ca) => makeHost(ca, name, ip, { keys }));
  return { ...certs[0]!, ca: trusts, certPem: certs.map((c) => c.certPem).join('') };
}

const dual = holding('dual', '10.50.0.1/16', [v1ca, v2ca], v1ca.pem + v2ca.pem);
const old = holding('old', '10.50.0.2/16', [v1ca], v1ca.pem);
const modern = holding('modern', '10.50.0.3/16', [v2ca], v2ca.pem);

const ADDRESS: Record<string, string> = { dual: '192.0.2.1', old: '192.0.2.2', modern: '192.0.2.3' };
const VPN: Record<string, string> = { dual: '10.50.0.1', old: '10.50.0.2', modern: '10.50.0.3' };

let running: MemoryNode[] = [];
afterEach(async () => {
  for (const n of running) await n.stop();
  running = [];
});

function staticHostMap(except: string): Record<string, string[]> {
  return Object.fromEntries(Object.keys(ADDRESS).filter((n) => n !== except).map((n) => [VPN[n]!, [`${ADDRESS[n]}:4242`]]));
}

async function start(net: MemoryNetwork, host: TestHost, extra: Record<string, unknown> = {}): Promise<MemoryNode> {
  const node = await startMemoryNode(net, host, ADDRESS[host.name]!, { staticHostMap: staticHostMap(host.name), extra });
  running.push(node);
  return node;
}

/** Injects pings from `from` to `to` until `to` has one on its TUN. */
async function ping(from: MemoryNode, to: MemoryNode, id: number): Promise<void> {
  const before = to.tun.written.length;
  from.tun.inject([echo(VPN[from.host.name]!, VPN[to.host.name]!, 8, id, 1)]);
  await waitFor(() => to.tun.written.length > before, 3000, `ping ${from.host.name} -> ${to.host.name}`);
}

function tunnelVersion(node: MemoryNode, peer: string): number | undefined {
  return nodeStatus(node.node).tunnels.find((t) => t.vpnIp === VPN[peer])?.certVersion;
}

describe('nodes with v1, v2 and v1+v2 certificates', () => {
  it('a dual host talks v1 to a v1-only node and v2 to a v2-only node at the same time', async () => {
    const net = new MemoryNetwork();
    const d = await start(net, dual);
    const o = await start(net, old);
    const m = await start(net, modern);
    assert.deepEqual(nodeStatus(d.node).certificate.versions, [1, 2]);
    assert.equal(nodeStatus(d.node).certificate.initiatingVersion, 1);

    await ping(d, o, 1); // dual initiates in v1
    await ping(m, d, 2); // modern initiates in v2, dual answers in v2
    await Promise.all([ping(d, o, 3), ping(o, d, 4), ping(d, m, 5), ping(m, d, 6)]);

    assert.equal(tunnelVersion(d, 'old'), 1);
    assert.equal(tunnelVersion(o, 'dual'), 1);
    assert.equal(tunnelVersion(d, 'modern'), 2);
    assert.equal(tunnelVersion(m, 'dual'), 2);
  });

  it('a dual host initiating in v2 (pki.initiating_version) reaches the v2-only node in v2, and the v1-only node cannot read it', async () => {
    const net = new MemoryNetwork();
    const d = await start(net, dual, { pki: { ca: dual.ca, cert: dual.certPem, key: dual.keyPem, initiating_version: 2 } });
    const m = await start(net, modern);
    const o = await start(net, old);
    await ping(d, m, 1);
    assert.equal(tunnelVersion(m, 'dual'), 2);
    // old holds only the v1 CA: a v2 certificate is not one it can trust, so only old's own handshake (v1) works.
    await ping(o, d, 2);
    assert.equal(tunnelVersion(d, 'old'), 1, 'dual answered old in v1');
  });

  it('v2 nodes find each other through a mesh lighthouse over v2 tunnels (IPv4 networks: the lighthouse messages are unchanged)', async () => {
    const net = new MemoryNetwork();
    const v2 = (name: string, ip: string) => holding(name, ip, [v2ca], v2ca.pem);
    const noInterfaces = () => ({});
    const lh = await startMemoryNode(net, v2('lh', '10.50.0.10/16'), '192.0.2.10', { amLighthouse: true, tun: { disabled: true }, networkInterfaces: noInterfaces });
    running.push(lh);
    const client = async (name: string, ip: string, address: string) => {
      const node = await startMemoryNode(net, v2(name, `${ip}/16`), address, {
        staticHostMap: { '10.50.0.10': ['192.0.2.10:4242'] },
        networkInterfaces: noInterfaces,
        extra: { lighthouse: { am_lighthouse: false, interval: '100ms', hosts: ['10.50.0.10'] } },
      });
      running.push(node);
      return node;
    };
    const a = await client('a', '10.50.0.21', '192.0.2.21');
    const b = await client('b', '10.50.0.22', '192.0.2.22');
    await waitFor(() => (lh.lighthouse!.server.addressesOf(parseIp('10.50.0.22'))?.v4.length ?? 0) > 0, 3000, 'b registered with the lighthouse');
    const before = b.tun.written.length;
    a.tun.inject([echo('10.50.0.21', '10.50.0.22', 8, 1, 1)]);
    await waitFor(() => b.tun.written.length > before, 3000, 'a reaches b, found through the lighthouse');
    assert.equal(nodeStatus(a.node).tunnels.find((t) => t.vpnIp === '10.50.0.10')?.certVersion, 2);
    assert.equal(nodeStatus(a.node).tunnels.find((t) => t.vpnIp === '10.50.0.22')?.certVersion, 2);
  });

  it('reload (SIGHUP) refuses a v1 and a v2 certificate that do not belong together and keeps the running ones', async () => {
    const net = new MemoryNetwork();
    const o = await start(net, old);
    const fingerprint = o.node.identity.fingerprint;
    const config = (certPem: string, keyPem: string, pki: Record<string, unknown> = {}) =>
      parseConfig(nebulaConfig({ ca: v1ca.pem + v2ca.pem, cert: certPem, key: keyPem, listen: { host: ADDRESS['old'], port: 4242 }, staticHostMap: staticHostMap('old'), extra: pki }), 'old.yml').config;

    const otherKey = makeHost(v2ca, 'old', '10.50.0.2/16');
    await assert.rejects(o.node.reload(config(old.certPem + otherKey.certPem, old.keyPem)), /pki\.key: .*version 2/);
    const keys = generateX25519KeyPair();
    const v1 = makeHost(v1ca, 'old', '10.50.0.2/16', { keys });
    const elsewhere = makeHost(v2ca, 'old', '10.50.0.2/24', { keys });
    await assert.rejects(o.node.reload(config(v1.certPem + elsewhere.certPem, v1.keyPem)), /pki\.cert: .*same first network/);
    await assert.rejects(o.node.reload(config(v1.certPem, v1.keyPem, { pki: { ca: v1ca.pem, cert: v1.certPem, key: v1.keyPem, initiating_version: 2 } })), /pki\.initiating_version/);
    assert.equal(o.node.identity.fingerprint, fingerprint, 'the running certificate stays');
    assert.deepEqual(o.node.identity.certificates().map((c) => c.version), [1]);

    const v2 = makeHost(v2ca, 'old', '10.50.0.2/16', { keys });
    await o.node.reload(config(v1.certPem + v2.certPem, v1.keyPem));
    assert.deepEqual(o.node.identity.certificates().map((c) => c.version), [1, 2], 'a good pair is taken');
    assert.equal(o.node.identity.vpnIp, parseIp('10.50.0.2'));
  });
});
