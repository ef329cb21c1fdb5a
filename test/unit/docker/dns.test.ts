import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';
import { pino } from 'pino';
import { ContainerDns, meshQuestionOf, upstreamServers } from '../../../src/docker/dns.js';
import { parseIp } from '../../../src/net/ipv4.js';

const dataOf = (a: Answer) => ('data' in a ? a.data : undefined);
const log = pino({ level: process.env.MESH_TEST_LOG ?? 'silent' });

function query(socket: dgram.Socket, port: number, name: string, type: 'A' | 'AAAA' | 'TXT' = 'A', id = 7): Promise<DecodedPacket & { rcode?: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer for ${name}`)), 3000);
    socket.once('message', (data) => {
      clearTimeout(timer);
      resolve(dnsPacket.decode(data));
    });
    socket.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), port, '127.0.0.1');
  });
}

describe('container DNS', () => {
  let dns: ContainerDns;
  let upstream: dgram.Socket;
  let client: dgram.Socket;
  const remoteLookups: string[] = [];

  const forwarded: { id: number; port: number }[] = [];

  before(async () => {
    // A stand-in for the host's resolver: answers every A query with 192.0.2.53.
    upstream = dgram.createSocket('udp4');
    upstream.on('message', (data, rinfo) => {
      const q = dnsPacket.decode(data);
      forwarded.push({ id: q.id!, port: rinfo.port });
      upstream.send(dnsPacket.encode({ type: 'response', id: q.id, questions: q.questions, answers: [{ type: 'A', name: q.questions![0]!.name, data: '192.0.2.53' }] }), rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', r));
    dns = await ContainerDns.start({
      address: '127.0.0.1',
      port: 0,
      zone: 'cluster',
      log,
      upstream: [{ address: '127.0.0.1', port: upstream.address().port }],
      names: {
        local: (name) => (name === 'db' ? [parseIp('10.200.2.5')] : name === 'api' ? [parseIp('10.200.2.7')] : []),
        remote: async (name) => {
          remoteLookups.push(name);
          if (name === 'api' || name === 'api.shop') return [parseIp('10.200.2.7'), parseIp('10.200.3.7'), parseIp('10.200.4.7')];
          return name === 'web' ? [parseIp('10.200.3.2')] : [];
        },
      },
    });
    client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
  });
  after(async () => {
    await dns.stop();
    upstream.close();
    client.close();
  });

  it('answers local and remote containers as <name>.<network> and bare names', async () => {
    const web = await query(client, dns.port, 'web.cluster');
    assert.deepEqual(web.answers!.map(dataOf), ['10.200.3.2']);
    assert.equal(web.id, 7);
    assert.deepEqual((await query(client, dns.port, 'DB.Cluster.')).answers!.map(dataOf), ['10.200.2.5']);
    assert.deepEqual((await query(client, dns.port, 'web')).answers!.map(dataOf), ['10.200.3.2']);
    assert.ok(remoteLookups.includes('web'));
  });

  it('answers tasks.<name> with every replica on every host, in a shuffled order with a short TTL', async () => {
    const all = ['10.200.2.7', '10.200.3.7', '10.200.4.7'];
    const orders = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const answer = await query(client, dns.port, 'tasks.api.cluster');
      const ips = answer.answers!.map(dataOf) as string[];
      assert.deepEqual([...ips].sort(), all, 'local and remote replicas, each once');
      assert.ok(answer.answers!.every((a) => 'ttl' in a && a.ttl! <= 5), 'short TTL');
      orders.add(ips.join(','));
    }
    assert.ok(orders.size > 1, 'the order changes between answers');
    assert.deepEqual(((await query(client, dns.port, 'tasks.api')).answers!.map(dataOf) as string[]).sort(), all);
    assert.deepEqual(((await query(client, dns.port, 'tasks.api.shop.cluster')).answers!.map(dataOf) as string[]).sort(), all, 'Compose <service>.<project>');
    // The plain name too (Docker answers it itself when it knows it here).
    assert.deepEqual(((await query(client, dns.port, 'api.cluster')).answers!.map(dataOf) as string[]).sort(), all);
    assert.equal((await query(client, dns.port, 'tasks.nothere.cluster')).rcode, 'NXDOMAIN');
  });

  it('says NXDOMAIN for unknown names in the zone and forwards everything else upstream', async () => {
    const missing = await query(client, dns.port, 'nothere.cluster');
    assert.equal(missing.rcode, 'NXDOMAIN');
    assert.equal(missing.answers!.length, 0);
    const outside = await query(client, dns.port, 'example.org', 'A', 4242);
    assert.deepEqual(outside.answers!.map(dataOf), ['192.0.2.53']);
    assert.equal(outside.id, 4242, 'the client id is restored');
    const bareUnknown = await query(client, dns.port, 'printer');
    assert.deepEqual(bareUnknown.answers!.map(dataOf), ['192.0.2.53'], 'a bare name nobody knows goes upstream');
  });

  it('forwards each query with a random ID from its own random source port', async () => {
    forwarded.length = 0;
    for (let i = 0; i < 8; i++) assert.equal((await query(client, dns.port, `host${i}.example.org`, 'A', 100)).id, 100);
    assert.equal(forwarded.length, 8);
    const ids = forwarded.map((f) => f.id);
    assert.ok(ids.some((id, i) => i > 0 && id !== ((ids[i - 1]! + 1) & 0xffff)), `IDs are not a sequence: ${ids}`);
    assert.ok(new Set(forwarded.map((f) => f.port)).size > 1, `several source ports: ${forwarded.map((f) => f.port)}`);
    assert.ok(!forwarded.some((f) => f.port === client.address().port));
  });

  it('drops malformed queries and keeps answering', async () => {
    client.send(Buffer.from('garbage'), dns.port, '127.0.0.1');
    client.send(Buffer.alloc(0), dns.port, '127.0.0.1');
    assert.deepEqual((await query(client, dns.port, 'web.cluster')).answers!.map(dataOf), ['10.200.3.2']);
  });

  it('parses names and resolv.conf', () => {
    assert.deepEqual(meshQuestionOf('Web.cluster.', 'cluster'), { name: 'web', inZone: true });
    assert.deepEqual(meshQuestionOf('tasks.api.cluster', 'cluster'), { name: 'api', inZone: true });
    assert.deepEqual(meshQuestionOf('api.shop.cluster', 'cluster'), { name: 'api.shop', inZone: true });
    assert.deepEqual(meshQuestionOf('tasks.api', 'cluster'), { name: 'api', inZone: false });
    assert.deepEqual(meshQuestionOf('web', 'cluster'), { name: 'web', inZone: false });
    assert.equal(meshQuestionOf('example.org', 'cluster'), null);
    assert.equal(meshQuestionOf('a..cluster', 'cluster'), null);
    assert.equal(meshQuestionOf('.cluster', 'cluster'), null);
    assert.deepEqual(upstreamServers('# x\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nnameserver 10.200.2.1\n', '10.200.2.1'), ['10.0.0.2']);
  });
});
