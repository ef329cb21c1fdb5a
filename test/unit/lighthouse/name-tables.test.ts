/**
 * Name tables between nodes (NameDirectory) and a lighthouse (MeshDirectory), over the real wire
 * codec with a channel the test can make lose datagrams: chunked snapshots, one-datagram deltas,
 * resynchronisation after loss and restarts, and the bounds a lighthouse keeps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { MeshDirectory } from '../../../lighthouse/directory.js';
import { formatIp, parseIp } from '../../../src/net/ipv4.js';
import { parseIpNetwork } from '../../../src/net/ip.js';
import { decodeMeta, encodeMeta, MetaType, type MeshName, type MetaDetails } from '../../../src/protocol/messages.js';
import type { HostInfo } from '../../../src/node/hostmap.js';
import { chunkNames, NameDirectory } from '../../../src/node/name-directory.js';
import { FakeTimers } from '../../helpers/fake-timers.js';

const log = pino({ level: process.env.MESH_TEST_LOG ?? 'silent' });
const LIGHTHOUSE = parseIp('10.42.0.100');
const INTERVAL_MS = 10_000;

/** A host with container subnet 10.<100 + i>.0.0/16 (room for 500 containers) and overlay address 10.42.1.<i>. */
function hostInfo(i: number): HostInfo {
  return { vpnIp: parseIp(`10.42.1.${i}`), vpnAddrs: [parseIp(`10.42.1.${i}`)], addrForm: 'v1', cert: { details: { name: `h${i}`, unsafeNetworks: [parseIpNetwork(`10.${100 + i}.0.0/16`)] } } } as unknown as HostInfo;
}

/** The address of container n on host i. */
function ipOf(i: number, n: number): number {
  return parseIp(`10.${100 + i}.0.10`) + n;
}

/** One lighthouse and any number of nodes, every message encoded and decoded as on the wire. */
class Mesh {
  readonly timers = new FakeTimers();
  now = 0;
  lighthouse = new MeshDirectory(() => this.now);
  /** Datagrams node → lighthouse, by type. */
  readonly sent = new Map<number, number>();
  readonly sizes: number[] = [];
  /** Drops node → lighthouse datagrams while true. */
  lossy = false;
  readonly nodes = new Map<number, NameDirectory>();

  addNode(i: number): NameDirectory {
    const host = hostInfo(i);
    const toLighthouse = (type: number, details: MetaDetails) => {
      const bytes = encodeMeta(type, details);
      this.sizes.push(bytes.length);
      this.sent.set(type, (this.sent.get(type) ?? 0) + 1);
      if (this.lossy) return;
      this.lighthouse.handle(host, decodeMeta(bytes), (replyType, reply) => this.reply(i, replyType, reply), () => ({ ip4AndPorts: [], ip6AndPorts: [], relayVpnIps: [] }));
    };
    const node = new NameDirectory({
      log,
      timers: this.timers,
      vpnIp: () => host.vpnIp as number,
      interval: () => INTERVAL_MS,
      hasLighthouses: () => true,
      sendToLighthouses: toLighthouse,
      sendToLighthouse: (lighthouse, type, details) => {
        assert.equal(lighthouse, LIGHTHOUSE);
        toLighthouse(type, details);
      },
    });
    this.nodes.set(i, node);
    return node;
  }

  private reply(i: number, type: number, details: MetaDetails): void {
    const decoded = decodeMeta(encodeMeta(type, details));
    const node = this.nodes.get(i)!;
    // An answer arrives after the question has left, as over a network.
    if (type === MetaType.MeshNameReply) queueMicrotask(() => node.handleReply(decoded.details));
    else if (type === MetaType.MeshNamesResync) node.handleResync(LIGHTHOUSE);
  }

  /** What the lighthouse answers for a name, asked by node i. */
  async lookup(i: number, name: string): Promise<string[]> {
    this.timers.advance(5000); // past the node's cache
    const ips = await this.nodes.get(i)!.resolve(name);
    return ips.map(formatIp).sort();
  }

  count(type: number): number {
    return this.sent.get(type) ?? 0;
  }

  resetCounts(): void {
    this.sent.clear();
  }
}

/** `count` containers on host i: each with its own name, the alias `api` and the Compose names `web`, `web.shop`. */
function containers(i: number, count: number, names: (n: number) => string[] = (n) => [`c${n}`, 'api', 'web', 'web.shop'], first = 0): MeshName[] {
  const out: MeshName[] = [];
  for (let n = first; n < first + count; n++) for (const name of names(n)) out.push({ name, ips: [ipOf(i, n)] });
  return out;
}

/** 500 containers: 240 with a name, an alias each and the shared alias `api`, 260 with just a longer name. */
function fiveHundred(i: number): MeshName[] {
  return containers(i, 240, (n) => [`c${n}`, `alias-${n}`, 'api']).concat(containers(i, 260, (n) => [`d${n}-with-a-longer-container-name`], 240));
}

const sorted = (ips: number[]) => ips.map(formatIp).sort();

describe('name tables: nodes and a lighthouse', () => {
  it('50 hosts with 500 named containers each: chunked snapshots, one datagram per change, every replica answered', async () => {
    const mesh = new Mesh();
    for (let i = 1; i <= 50; i++) mesh.addNode(i).publish(fiveHundred(i));
    const snapshots = mesh.count(MetaType.MeshNamesSnapshot);
    // 500 names of up to ~35 bytes plus 240 aliases and a 240-address service: tens of chunks per host, not hundreds.
    assert.ok(snapshots >= 50 * 10 && snapshots <= 50 * 40, `${snapshots} snapshot chunks`);
    assert.ok(Math.max(...mesh.sizes) <= 1200, `largest datagram ${Math.max(...mesh.sizes)} bytes`);
    assert.equal(mesh.lighthouse.names, 240 + 240 + 260 + 1);
    const hosts = Array.from({ length: 50 }, (_, k) => k + 1);
    assert.deepEqual(await mesh.lookup(1, 'd499-with-a-longer-container-name'), sorted(hosts.map((i) => ipOf(i, 499))));
    assert.deepEqual(await mesh.lookup(3, 'alias-7'), sorted(hosts.map((i) => ipOf(i, 7))));
    assert.deepEqual(await mesh.lookup(3, 'd300-with-a-longer-container-name'), sorted(hosts.map((i) => ipOf(i, 300))));
    // 50 × 240 replicas of `api`: one answer carries a sample that fits a datagram.
    assert.equal((await mesh.lookup(2, 'api')).length, 200);

    // One container stops on host 7: one delta datagram, and the periodic checks find everyone in step.
    mesh.resetCounts();
    const seven = fiveHundred(7).filter((n) => n.ips[0] !== ipOf(7, 7));
    mesh.nodes.get(7)!.publish(seven);
    assert.equal(mesh.count(MetaType.MeshNamesDelta), 1);
    assert.deepEqual(await mesh.lookup(1, 'alias-7'), sorted(hosts.filter((i) => i !== 7).map((i) => ipOf(i, 7))));
    assert.equal((await mesh.lookup(1, 'c7')).length, 49);
    mesh.resetCounts();
    mesh.timers.advance(INTERVAL_MS);
    assert.equal(mesh.count(MetaType.MeshNamesCheck), 50);
    assert.equal(mesh.count(MetaType.MeshNamesSnapshot), 0, 'nobody needed a resync');
    // Publishing the same table again sends nothing.
    mesh.nodes.get(7)!.publish(seven);
    assert.equal(mesh.count(MetaType.MeshNamesDelta), 0);
  });

  it('every chunk fits a datagram, also with the longest names and the most addresses per name', () => {
    const longest = (k: number) => `${'x'.repeat(120)}-${String(k).padStart(6, '0')}`;
    const names: MeshName[] = [
      ...Array.from({ length: 5 }, (_, k) => ({ name: longest(k), ips: Array.from({ length: 200 }, (_, n) => 0xfff00000 + n) })),
      ...Array.from({ length: 300 }, (_, k) => ({ name: longest(k + 5), ips: [0xfff00000 + k] })),
      { name: 'gone', ips: [] },
    ];
    const chunks = chunkNames(names);
    assert.deepEqual(chunks.flat(), names, 'nothing lost, order kept');
    for (const meshNames of chunks) {
      const bytes = encodeMeta(MetaType.MeshNamesSnapshot, { vpnIp: 0xffffffff, ip4AndPorts: [], counter: 0, ip6AndPorts: [], relayVpnIps: [], meshNames, meshNameTable: { epoch: 0xffffffff, version: 0xffffffff, chunk: 1023, chunks: 1024 } });
      assert.ok(bytes.length <= 1200, `${bytes.length} bytes`);
    }
  });

  it('a lost delta is repaired by the next check: the lighthouse asks for a snapshot', async () => {
    const mesh = new Mesh();
    const node = mesh.addNode(1);
    node.publish(containers(1, 3));
    assert.deepEqual(await mesh.lookup(1, 'api'), sorted([ipOf(1, 0), ipOf(1, 1), ipOf(1, 2)]));
    mesh.lossy = true;
    node.publish(containers(1, 2)); // c2 stops: the delta is lost
    mesh.lossy = false;
    node.publish(containers(1, 2).concat({ name: 'late', ips: [ipOf(1, 99)] })); // the next delta shows the gap
    assert.equal(mesh.count(MetaType.MeshNamesSnapshot), 2, 'the gap asked for a snapshot at once');
    assert.deepEqual(await mesh.lookup(1, 'api'), sorted([ipOf(1, 0), ipOf(1, 1)]));
    assert.deepEqual(await mesh.lookup(1, 'c2'), []);

    // A lost delta with nothing after it: the periodic check finds it.
    mesh.lossy = true;
    node.publish(containers(1, 1));
    mesh.lossy = false;
    mesh.now += 5000;
    mesh.resetCounts();
    mesh.timers.advance(INTERVAL_MS);
    assert.equal(mesh.count(MetaType.MeshNamesCheck), 1);
    assert.equal(mesh.count(MetaType.MeshNamesSnapshot), 1, 'the check asked for a snapshot');
    assert.deepEqual(await mesh.lookup(1, 'api'), sorted([ipOf(1, 0)]));
  });

  it('a restarted lighthouse relearns every table from the checks; a restarted node replaces its old names', async () => {
    const mesh = new Mesh();
    mesh.addNode(1).publish(containers(1, 2));
    mesh.addNode(2).publish(containers(2, 2));
    mesh.lighthouse = new MeshDirectory(() => mesh.now);
    assert.deepEqual(await mesh.lookup(1, 'api'), []);
    mesh.timers.advance(INTERVAL_MS);
    assert.deepEqual(await mesh.lookup(1, 'api'), sorted([ipOf(1, 0), ipOf(1, 1), ipOf(2, 0), ipOf(2, 1)]));

    // Node 2 restarts (new epoch) with one container: its old names go.
    mesh.nodes.get(2)!.stop();
    mesh.addNode(2).publish([{ name: 'api', ips: [ipOf(2, 50)] }]);
    assert.deepEqual(await mesh.lookup(1, 'api'), sorted([ipOf(1, 0), ipOf(1, 1), ipOf(2, 50)]));
    assert.deepEqual(await mesh.lookup(1, 'c1'), sorted([ipOf(1, 1)]));
  });

  it('keeps only addresses in the publisher\'s own subnets, ignores a host speaking for another, forgets a host whose tunnel goes', async () => {
    const mesh = new Mesh();
    mesh.addNode(1).publish([
      { name: 'web', ips: [ipOf(1, 7), ipOf(2, 7)] },
      { name: 'forged', ips: [ipOf(2, 9)] },
    ]);
    assert.deepEqual(await mesh.lookup(1, 'web'), sorted([ipOf(1, 7)]));
    assert.deepEqual(await mesh.lookup(1, 'forged'), []);
    const replies: number[] = [];
    const other = encodeMeta(MetaType.MeshNamesSnapshot, { vpnIp: parseIp('10.42.1.2'), ip4AndPorts: [], counter: 0, ip6AndPorts: [], relayVpnIps: [], meshNames: [{ name: 'web', ips: [ipOf(2, 8)] }], meshNameTable: { epoch: 1, version: 1, chunk: 0, chunks: 1 } });
    mesh.lighthouse.handle(hostInfo(1), decodeMeta(other), (type) => replies.push(type), () => ({ ip4AndPorts: [], ip6AndPorts: [], relayVpnIps: [] }));
    assert.deepEqual(await mesh.lookup(1, 'web'), sorted([ipOf(1, 7)]));
    assert.deepEqual(replies, []);
    mesh.lighthouse.onTunnelGone(hostInfo(1));
    assert.equal(mesh.lighthouse.names, 0);
  });
});
