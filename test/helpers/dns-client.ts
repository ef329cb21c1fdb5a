import dgram from 'node:dgram';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { waitFor } from './memory-mesh.js';

/** A lighthouse on a MemoryNetwork serving DNS on a free loopback port (lighthouse.dns.port). */
export const DNS_LIGHTHOUSE = {
  amLighthouse: true,
  tun: { disabled: true },
  extra: { lighthouse: { am_lighthouse: true, serve_dns: true, dns: { host: '127.0.0.1', port: 0 } } },
};

export type DnsReply = DecodedPacket & { rcode?: string };

/** A DNS client on loopback: one socket, replies kept by transaction id. */
export class DnsTestClient {
  private readonly socket = dgram.createSocket('udp4');
  readonly replies = new Map<number, DnsReply>();

  static async open(): Promise<DnsTestClient> {
    const client = new DnsTestClient();
    client.socket.on('message', (data) => {
      const reply = dnsPacket.decode(data) as DnsReply;
      client.replies.set(reply.id!, reply);
    });
    await new Promise<void>((resolve) => client.socket.bind(0, '127.0.0.1', resolve));
    return client;
  }

  /** Raw bytes to the server. */
  send(bytes: Uint8Array, port: number): void {
    this.socket.send(bytes, port, '127.0.0.1');
  }

  /** Asks `name`/`type` as transaction `id` and waits (2 s at most) for the answer. */
  async query(port: number, name: string, type: 'A' | 'AAAA' | 'TXT', id: number, flags = 0): Promise<DnsReply> {
    this.send(dnsPacket.encode({ type: 'query', id, flags, questions: [{ name, type }] }), port);
    await waitFor(() => this.replies.has(id), 2000, `reply ${id}`);
    return this.replies.get(id)!;
  }

  close(): void {
    this.socket.close();
  }
}
