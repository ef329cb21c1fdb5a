import dgram from 'node:dgram';
import dnsPacket, { type Answer, type DecodedPacket, type Question } from 'dns-packet';
import type { Logger } from 'pino';
import type { Certificate } from '../pki/cert.js';
import { scanIp } from '../src/net/ipv4.js';
import type { Diagnostics } from '../src/node/diagnostics.js';
import { formatIpNetwork, formatVpnAddr, ipFamily, parseVpnAddr, type VpnAddr } from '../src/net/ip.js';

/** What the DNS server needs: who we are, who is connected, and the directory's name index. */
export interface LighthouseDnsDeps {
  readonly diag: Pick<Diagnostics, 'drop'>;
  readonly log: Logger;
  /** Our own certificate and overlay addresses, first one first (replaced by a reload). */
  self(): { cert: Certificate; vpnAddrs: readonly VpnAddr[] };
  /** The certificate of a host with an established tunnel, if any. */
  connectedCert(vpnIp: VpnAddr): Certificate | null;
  /** The overlay addresses of the connected host with this certificate name (lower case). */
  hostNamed(name: string): readonly VpnAddr[] | undefined;
  inVpnNetwork(ip: number): boolean;
}

const RCODE_NXDOMAIN = 3;
/** Short, because names follow tunnels that come and go (Nebula uses 3600 s and never forgets a name). */
const TTL_SECONDS = 60;

/**
 * Whether a DNS server bound to `host` answers beyond the mesh: anything but loopback or an overlay
 * address (one of ours, since only those can be bound) is reachable from the underlay.
 */
export function dnsReachableOutsideMesh(host: string, inVpnNetwork: (ip: number) => boolean): boolean {
  if (host === '::1') return false;
  const ip = scanIp(host);
  if (ip < 0) return true; // "", 0.0.0.0's IPv6 twin "::" and any other IPv6 address
  return ip >>> 24 !== 127 && !inVpnNetwork(ip);
}

/**
 * `lighthouse.serve_dns`: a UDP DNS server answering A queries for the certificate name of every
 * host with a tunnel to this lighthouse (and the lighthouse's own), and, like Nebula, TXT queries
 * for an overlay IP with that host's certificate details (only to queriers on the overlay or
 * loopback). Unknown names get NXDOMAIN; malformed queries are dropped.
 */
export class LighthouseDns {
  private constructor(
    private readonly node: LighthouseDnsDeps,
    private readonly socket: dgram.Socket,
  ) {}

  /** Binds lighthouse.dns.host:port ("" = every IPv4 address, as Nebula's ":53"). */
  static start(node: LighthouseDnsDeps, listen: { host: string; port: number }): Promise<LighthouseDns> {
    const host = listen.host || '0.0.0.0';
    const socket = dgram.createSocket(ipFamily(host) === 6 ? 'udp6' : 'udp4');
    const server = new LighthouseDns(node, socket);
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port: listen.port }, () => {
        socket.off('error', reject);
        socket.on('error', (err) => node.log.warn({ reason: err.message }, 'DNS socket error'));
        socket.on('message', (data, rinfo) => server.answer(data, { address: rinfo.address, port: rinfo.port }));
        node.log.info({ address: `${host}:${server.port}` }, 'serving DNS for connected hosts');
        if (dnsReachableOutsideMesh(host, (ip) => node.inVpnNetwork(ip))) {
          node.log.warn(
            { address: `${host}:${server.port}` },
            'lighthouse DNS is reachable from outside the mesh: anyone who can reach it can map certificate names to overlay IPs; set lighthouse.dns.host to this lighthouse\'s overlay IP (or 127.0.0.1)',
          );
        }
        resolve(server);
      });
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private answer(data: Buffer, from: { address: string; port: number }): void {
    let query: DecodedPacket & { opcode?: string };
    try {
      query = dnsPacket.decode(data);
    } catch (err) {
      this.node.diag.drop('dns-malformed', from, err);
      return;
    }
    const questions = query.questions ?? [];
    if (query.type !== 'query' || query.opcode !== 'QUERY' || questions.length === 0) {
      this.node.diag.drop('dns-not-query', from);
      return;
    }
    const answers: Answer[] = [];
    let unknown = false;
    for (const question of questions) {
      const found = this.resolve(question, from.address);
      if (found === null) unknown = true;
      else answers.push(...found);
    }
    const flags = dnsPacket.AUTHORITATIVE_ANSWER | (query.flags! & dnsPacket.RECURSION_DESIRED) | (unknown && answers.length === 0 ? RCODE_NXDOMAIN : 0);
    const reply = dnsPacket.encode({ type: 'response', id: query.id, flags, questions, answers });
    this.socket.send(reply, from.port, from.address);
  }

  /** The answers for one question; null when the name does not exist (NXDOMAIN). */
  private resolve(question: Question, querier: string): Answer[] | null {
    const name = question.name.replace(/\.$/, '').toLowerCase();
    if (question.type === 'TXT' && ipFamily(name) !== 0) {
      const cert = this.certFor(parseVpnAddr(name));
      if (!cert) return null;
      if (!this.mayReadCertificates(querier)) return [];
      return [{ type: 'TXT', name: question.name, ttl: TTL_SECONDS, data: certificateText(cert) }];
    }
    const addrs = this.vpnAddrsFor(name);
    if (addrs === null) return null;
    // A: the IPv4 overlay addresses, AAAA: the IPv6 ones (a v2 certificate may carry both).
    const family = question.type === 'A' ? 'number' : question.type === 'AAAA' ? 'bigint' : null;
    return addrs.filter((a) => typeof a === family).map((a) => ({ type: question.type as 'A' | 'AAAA', name: question.name, ttl: TTL_SECONDS, data: formatVpnAddr(a) }));
  }

  private vpnAddrsFor(name: string): readonly VpnAddr[] | null {
    const self = this.node.self();
    if (self.cert.details.name.toLowerCase() === name) return self.vpnAddrs;
    const addrs = this.node.hostNamed(name);
    // The index follows tunnels; a host whose tunnel was replaced is still answered by its current one.
    return addrs !== undefined && addrs.length > 0 && this.node.connectedCert(addrs[0]!) ? addrs : null;
  }

  private certFor(vpnIp: VpnAddr): Certificate | null {
    const self = this.node.self();
    if (self.vpnAddrs.includes(vpnIp)) return self.cert;
    return this.node.connectedCert(vpnIp);
  }

  /** Nebula answers TXT only to hosts on the overlay and to 127.0.0.1. */
  private mayReadCertificates(querier: string): boolean {
    const address = querier.startsWith('::ffff:') ? querier.slice(7) : querier;
    const ip = scanIp(address);
    if (ip < 0) return false;
    return address.startsWith('127.') || this.node.inVpnNetwork(ip);
  }
}

/** The certificate details as TXT strings, in the order of Nebula's answer. */
function certificateText(cert: Certificate): string[] {
  const d = cert.details;
  return [
    `Name: ${d.name}`,
    `Ips: ${d.networks.map(formatIpNetwork).join(', ')}`,
    `Subnets: ${d.unsafeNetworks.map(formatIpNetwork).join(', ')}`,
    `Groups: ${d.groups.join(', ')}`,
    `NotBefore: ${new Date(d.notBefore * 1000).toISOString()}`,
    `NotAfter: ${new Date(d.notAfter * 1000).toISOString()}`,
    `PublicKey: ${Buffer.from(d.publicKey).toString('hex')}`,
    `IsCA: ${d.isCA}`,
    `Issuer: ${d.issuer}`,
  ];
}
