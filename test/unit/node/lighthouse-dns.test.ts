import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { DNS_LIGHTHOUSE, DnsTestClient, type DnsReply } from '../../helpers/dns-client.js';
import { MemoryNetwork } from '../../../src/io/memory.js';
import { parseIp } from '../../../src/net/ipv4.js';
import { icmpEcho } from '../../helpers/packets.js';
import { startMemoryNode, waitFor, type MemoryNode } from '../../helpers/memory-mesh.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';

const ca = makeCA('DNS CA', { ips: ['10.7.0.0/16'] });
const lighthouseHost = makeHost(ca, 'Lighthouse', '10.7.0.1/16');
const clientHost = makeHost(ca, 'client.example', '10.7.0.2/16', { groups: ['laptop'] });

let lighthouse: MemoryNode;
let client: MemoryNode;
let dnsPort: number;
let dns: DnsTestClient;

/** The records' data (OPT records have none). */
function answerData(reply: DecodedPacket): unknown[] {
  return (reply.answers ?? []).map((a) => ('data' in a ? a.data : undefined));
}

function query(name: string, type: 'A' | 'AAAA' | 'TXT', id: number): Promise<DnsReply> {
  return dns.query(dnsPort, name, type, id, dnsPacket.RECURSION_DESIRED);
}

describe('lighthouse DNS (serve_dns)', () => {
  before(async () => {
    const net = new MemoryNetwork();
    lighthouse = await startMemoryNode(net, lighthouseHost, '192.0.2.1', DNS_LIGHTHOUSE);
    client = await startMemoryNode(net, clientHost, '192.0.2.2', { staticHostMap: { '10.7.0.1': ['192.0.2.1:4242'] } });
    client.tun.inject([icmpEcho('10.7.0.2', '10.7.0.1', 8, 1, 1)]);
    await waitFor(() => lighthouse.node.hostmap.get(parseIp('10.7.0.2'))?.established === true, 3000, 'tunnel to the lighthouse');
    dnsPort = lighthouse.lighthouse!.dns!.port;
    dns = await DnsTestClient.open();
  });

  after(async () => {
    dns.close();
    await client.stop();
    await lighthouse.stop();
  });

  it('answers A for a connected host by certificate name, case-insensitive, with or without the final dot', async () => {
    for (const [i, name] of ['client.example', 'CLIENT.Example.'].entries()) {
      const reply = await query(name, 'A', 100 + i);
      assert.equal(reply.rcode, 'NOERROR');
      assert.equal(reply.flag_aa, true);
      assert.deepEqual(reply.answers?.map((a) => [a.type, a.name]), [['A', name.replace(/\.$/, '')]]);
      assert.deepEqual(answerData(reply), ['10.7.0.2']);
    }
  });

  it("answers A for the lighthouse's own name", async () => {
    const reply = await query('lighthouse', 'A', 110);
    assert.deepEqual(answerData(reply), ['10.7.0.1']);
  });

  it('answers NXDOMAIN for unknown names and an empty NOERROR for other types of known names', async () => {
    const unknown = await query('nobody.example', 'A', 120);
    assert.equal(unknown.rcode, 'NXDOMAIN');
    assert.deepEqual(unknown.answers, []);
    const aaaa = await query('client.example', 'AAAA', 121);
    assert.equal(aaaa.rcode, 'NOERROR');
    assert.deepEqual(aaaa.answers, []);
  });

  it('answers TXT for an overlay IP with the certificate details (to loopback)', async () => {
    const reply = await query('10.7.0.2', 'TXT', 130);
    const strings = (answerData(reply)[0] as Buffer[]).map(String);
    assert.equal(strings[0], 'Name: client.example');
    assert.ok(strings.includes('Ips: 10.7.0.2/16'), strings.join(' | '));
    assert.ok(strings.includes('Groups: laptop'), strings.join(' | '));
  });

  it('drops malformed queries and answers the next one', async () => {
    const before = lighthouse.node.stats.dropped['dns-malformed'] ?? 0;
    dns.send(Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00]), dnsPort);
    const truncatedQuestion = dnsPacket.encode({ type: 'query', id: 140, questions: [{ name: 'client.example', type: 'A' }] }).subarray(0, 20);
    dns.send(truncatedQuestion, dnsPort);
    const responseNotQuery = dnsPacket.encode({ type: 'response', id: 141, questions: [{ name: 'client.example', type: 'A' }] });
    dns.send(responseNotQuery, dnsPort);
    const reply = await query('client.example', 'A', 142);
    assert.deepEqual(answerData(reply), ['10.7.0.2']);
    assert.equal((lighthouse.node.stats.dropped['dns-malformed'] ?? 0) - before, 2);
    assert.equal(lighthouse.node.stats.dropped['dns-not-query'], 1);
    assert.equal(dns.replies.has(140) || dns.replies.has(141) || dns.replies.has(0x1234), false, 'no reply to bad input');
  });

  it('forgets a host whose tunnel is gone', async () => {
    await client.stop();
    await waitFor(() => !lighthouse.node.hostmap.get(parseIp('10.7.0.2')), 3000, 'tunnel closed');
    const reply = await query('client.example', 'A', 150);
    assert.equal(reply.rcode, 'NXDOMAIN');
  });
});
