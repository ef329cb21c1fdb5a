import assert from 'node:assert/strict';
import { get, request } from 'node:http';
import { afterEach, describe, it } from 'node:test';
import { LighthouseServer } from '../../../lighthouse/server.js';
import type { MeshView } from '../../../lighthouse/web.js';
import { MemoryNetwork } from '../../../src/io/memory.js';
import { within } from '../../../src/lab/wait.js';
import { cidrContains, parseCidr, parseIp } from '../../../src/net/ipv4.js';
import type { VpnAddr } from '../../../src/net/ip.js';
import { ConnectionManager } from '../../../src/node/connection-manager.js';
import { LighthouseClient, type LighthouseClientDeps } from '../../../src/node/lighthouse-client.js';
import type { HostInfo } from '../../../src/node/hostmap.js';
import { decodeMeta, emptyMetaDetails, encodeMeta, MAX_REPORTED_TUNNELS, MetaType } from '../../../src/protocol/messages.js';
import { mapCluster } from '../../helpers/map-cluster.js';
import { waitFor, type MemoryNode } from '../../helpers/memory-mesh.js';

let running: MemoryNode[] = [];
afterEach(async () => {
  for (const n of running) await n.stop();
  running = [];
});

async function cluster(net: MemoryNetwork) {
  const c = await mapCluster(net);
  running.push(c.lighthouse, c.a, c.b);
  return c;
}

function fetchText(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  const response = new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
  return within(response, 5000, `${method} ${url}`);
}

describe('lighthouse.web', () => {
  it('serves the mesh as JSON: hosts with certificate details, containers and addresses, tunnels with path and RTT', async () => {
    const startedAt = Date.now();
    const { base } = await cluster(new MemoryNetwork());
    const res = await fetchText(`${base}/api/mesh`);
    assert.equal(res.status, 200);
    assert.match(res.type, /application\/json/);
    const view = JSON.parse(res.body) as MeshView;
    assert.equal(view.lighthouse, '10.42.0.100');
    const byName = new Map(view.hosts.map((h) => [h.name, h]));
    assert.deepEqual([...byName.keys()], ['lh', 'a', 'b']);
    assert.deepEqual(byName.get('lh')!.groups, ['infra']);
    assert.equal(byName.get('lh')!.lighthouse, true);
    const b = byName.get('b')!;
    assert.deepEqual(b.groups, ['web']);
    assert.deepEqual(b.subnets, ['10.200.2.0/24']);
    assert.deepEqual(b.containers, [{ name: 'shop', ips: ['10.200.2.7'] }]);
    assert.deepEqual(b.learned, ['192.0.2.2:4242']);
    assert.equal(b.tunnels, 2);
    // Seen while this test ran: between its start and now (a bracket, not a duration bound).
    assert.ok(b.lastSeen && Date.parse(b.lastSeen) >= startedAt && Date.parse(b.lastSeen) <= Date.now(), String(b.lastSeen));
    const pairs = view.edges.map((e) => [e.from, e.to].sort().join(' ')).sort();
    assert.deepEqual(pairs, ['10.42.0.1 10.42.0.100', '10.42.0.1 10.42.0.2', '10.42.0.100 10.42.0.2']);
    const ab = view.edges.find((e) => [e.from, e.to].sort().join(' ') === '10.42.0.1 10.42.0.2')!;
    assert.equal(ab.kind, 'direct');
    assert.equal(ab.via, null);
    assert.ok(ab.rttMs !== null && ab.rttMs > 0 && ab.rttMs < 1000, `rtt ${ab.rttMs}`);
    assert.doesNotMatch(res.body, /PRIVATE KEY|BEGIN NEBULA|"key"/i);
  });

  it('is read-only and serves the page and its assets from the package', async () => {
    const { base } = await cluster(new MemoryNetwork());
    for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await fetchText(`${base}/api/mesh`, method)).status, 405);
    assert.equal((await fetchText(`${base}/../../etc/passwd`)).status, 404);
    assert.equal((await fetchText(`${base}/nope`)).status, 404);
    const page = await fetchText(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<script src="\/vendor\/cytoscape.min.js"/);
    assert.doesNotMatch(page.body, /https?:\/\//, 'nothing from the internet');
    assert.match((await fetchText(`${base}/vendor/cytoscape.min.js`)).body, /cytoscape/);
    assert.match((await fetchText(`${base}/map.js`)).type, /javascript/);
  });

  it('sends the whole view as a server-sent event at once and when a host goes', async () => {
    const { b, base } = await cluster(new MemoryNetwork());
    const views: MeshView[] = [];
    const req = get(`${base}/api/events`);
    const res = await within(new Promise<import('node:http').IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject)), 5000, 'the event stream\'s response');
    assert.match(String(res.headers['content-type']), /text\/event-stream/);
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.*)$/m.exec(event)?.[1];
        if (/^event: mesh$/m.test(event) && data) views.push(JSON.parse(data) as MeshView);
      }
    });
    try {
      await waitFor(() => views.length > 0, 3000, 'first event');
      assert.ok(views[0]!.hosts.some((h) => h.name === 'b'));
      await b.stop();
      await waitFor(() => views.some((v) => !v.hosts.some((h) => h.name === 'b')), 5000, 'an event without b');
      const last = views.at(-1)!;
      assert.ok(!last.edges.some((e) => e.from === '10.42.0.2' || e.to === '10.42.0.2'), 'b\'s tunnels went with it');
    } finally {
      req.destroy();
    }
  });
});

describe('tunnel reports at the lighthouse', () => {
  const host = (ip: string) => ({ vpnIp: parseIp(ip), vpnAddrs: [parseIp(ip)], addrForm: 'v1', remote: { address: '192.0.2.9', port: 4242 }, cert: null }) as unknown as HostInfo;
  const vpnNet = parseCidr('10.42.0.0/16');
  const server = () =>
    new LighthouseServer({ sendOn: () => {}, sendTo: () => {}, remoteAllowed: () => true, diag: { drop: () => {} }, inVpnNetworks: (ip) => typeof ip === 'number' && cidrContains(vpnNet, ip) });
  const report = (from: number, peers: number[], total = peers.length) =>
    decodeMeta(
      encodeMeta(MetaType.MeshTunnelsReport, {
        ...emptyMetaDetails(),
        vpnIp: from,
        meshTunnels: peers.map((peerIp, i) => ({ peerIp, relayIp: 0, rttMicros: 100 + i, ageSeconds: i })),
        meshTunnelsTotal: total,
        meshNatMapping: 2,
      }),
    );

  it('keeps the latest report per host, bounded, only from the host itself, and forgets it with the tunnel', () => {
    const s = server();
    const a = host('10.42.0.1');
    const changes: VpnAddr[] = [];
    s.watch((ip) => changes.push(ip));
    s.onTunnelUp(a);
    const peers = Array.from({ length: 100 }, (_, i) => parseIp('10.42.1.0') + i);
    s.handle(a, report(a.vpnIp as number, [a.vpnIp as number, peers[0]!, peers[0]!, ...peers], 500));
    const kept = s.directory.reportOf(a.vpnIp)!;
    assert.equal(kept.tunnels.length, MAX_REPORTED_TUNNELS);
    assert.equal(kept.tunnels[0]!.peerIp, peers[0], 'itself and repeats are left out');
    assert.equal(new Set(kept.tunnels.map((t) => t.peerIp)).size, MAX_REPORTED_TUNNELS);
    assert.equal(kept.total, 500);
    assert.equal(kept.natMapping, 'endpoint-dependent');
    s.handle(a, report(parseIp('10.42.0.2'), [peers[1]!]));
    assert.equal(s.directory.reportOf(parseIp('10.42.0.2')), undefined, 'nobody reports for another host');
    s.handle(a, report(a.vpnIp as number, [peers[5]!]));
    assert.deepEqual(s.directory.reportOf(a.vpnIp)!.tunnels.map((t) => t.peerIp), [peers[5]], 'the latest report replaces the last');
    s.onTunnelGone(a);
    assert.equal(s.directory.reportOf(a.vpnIp), undefined);
    assert.ok(changes.length >= 4 && changes.every((ip) => ip === a.vpnIp));
  });
});

describe('round trips (ConnectionManager)', () => {
  it('measures from the echoed probe time and from a liveness test, and ignores implausible echoes', () => {
    let clock = 1000;
    const sent: Uint8Array[] = [];
    const cm = new ConnectionManager({
      hostmap: {} as never,
      diag: {} as never,
      timers: { after: () => ({ cancel() {} }), every: () => ({ cancel() {} }), now: () => clock },
      settings: () => ({ connectionAliveInterval: 1000, pendingDeletionInterval: 1000, disconnectInvalid: false }),
      stillValid: () => true,
      sendTest: (_host, payload) => void sent.push(payload ?? new Uint8Array()),
      removeTunnel: () => {},
      monotonicMs: () => clock,
    });
    const h = { testSentAt: 0, lastRttMs: null } as unknown as HostInfo;
    cm.probeRtt(h);
    clock += 12.5;
    cm.onTestReply(h, sent[0]!);
    assert.equal(h.lastRttMs, 12.5);
    h.testSentAt = clock;
    clock += 3;
    cm.onTestReply(h, new Uint8Array());
    assert.equal(h.lastRttMs, 3);
    const forged = Buffer.alloc(8);
    forged.writeDoubleBE(clock + 5000);
    cm.onTestReply(h, forged);
    assert.equal(h.lastRttMs, 3, 'a time from the future is no round trip');
    cm.onTestReply(h, Buffer.alloc(5));
    assert.equal(h.lastRttMs, 3);
  });
});

describe('tunnel reports from a node (LighthouseClient)', () => {
  it('reports at most MAX_REPORTED_TUNNELS tunnels with the total, relayed ones with their relay, and the NAT mapping', () => {
    const base = parseIp('10.42.1.0');
    const hosts = Array.from({ length: MAX_REPORTED_TUNNELS + 5 }, (_, i) => ({
      vpnIp: base + MAX_REPORTED_TUNNELS + 4 - i,
      established: i !== 0,
      remote: i === 1 ? null : { address: '192.0.2.1', port: 4242 },
      lastRttMs: i === 2 ? 0.25 : null,
      createdAt: 0,
    }));
    const client = new LighthouseClient({
      hostmap: { hosts: () => hosts.values() },
      timers: { after: () => ({ cancel() {} }), every: () => ({ cancel() {} }), now: () => 90_500 },
      identity: () => ({ vpnIp: parseIp('10.42.0.1'), inVpnNetwork: () => true }),
      settings: () => ({ lighthouse: { amLighthouse: false, hosts: [] } }),
      relayFor: (vpnIp: number) => (vpnIp === hosts[1]!.vpnIp ? parseIp('10.42.0.9') : null),
      natMapping: () => 'endpoint-dependent',
    } as unknown as LighthouseClientDeps);
    const all = client.tunnels();
    assert.equal(all.length, MAX_REPORTED_TUNNELS + 4, 'established tunnels only');
    assert.deepEqual(all.map((t) => t.peerIp), [...all.map((t) => t.peerIp)].sort((a, b) => a - b), 'lowest overlay IPs first');
    const report = client.tunnelReport();
    assert.equal(report.meshTunnels!.length, MAX_REPORTED_TUNNELS);
    assert.equal(report.meshTunnelsTotal, MAX_REPORTED_TUNNELS + 4);
    assert.equal(report.meshNatMapping, 2);
    const relayed = all.find((t) => t.peerIp === hosts[1]!.vpnIp)!;
    assert.equal(relayed.relayIp, parseIp('10.42.0.9'));
    assert.equal(all.find((t) => t.peerIp === hosts[2]!.vpnIp)!.rttMicros, 250);
    assert.equal(all.find((t) => t.peerIp === hosts[3]!.vpnIp)!.rttMicros, 0, 'not measured');
    assert.equal(all[0]!.ageSeconds, 90);
  });
});
