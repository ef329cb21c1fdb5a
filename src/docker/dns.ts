/**
 * Container and service names across hosts. Docker's embedded DNS (127.0.0.11 in every container
 * on a user-defined network) answers the names of the containers on its own host (container names,
 * network aliases, Compose services, each also as `<name>.<network>`) and forwards every other name
 * to the daemon's upstream servers. With the daemon option `"dns": ["<gateway of the cluster
 * network>"]` that upstream is this server, on the bridge gateway of the host's `cluster` network.
 * It answers, from the mesh (the lighthouses) and this host's containers:
 *
 *   tasks.<name>.<network>, tasks.<name>   every running (and healthy) container with that name,
 *                                          alias or service on every host
 *   <name>.<network>, <name>               the same set (Docker sends these here only when none
 *                                          of its containers here has that name or alias)
 *
 * in a new random order per answer with a short TTL, so clients spread over the replicas and
 * notice a stopped one within seconds. Unknown names in the network's zone get NXDOMAIN; everything
 * else goes to the host's own resolvers.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';
import type { Logger } from 'pino';
import { ipFamily } from '../net/ip.js';
import { formatIp } from '../net/ipv4.js';

const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
/** Short: replicas come and go, and clients should spread over the current ones. */
const TTL_SECONDS = 2;
const FORWARD_TIMEOUT_MS = 2000;
const MAX_PENDING_FORWARDS = 1024;

/** Where names come from: the local containers, then the mesh. */
export interface NameSource {
  local(name: string): number[];
  remote(name: string): Promise<number[]>;
}

/** Nameservers from resolv.conf, without loopback ones (unreachable from where Docker forwards) and without `self`. */
export function upstreamServers(resolvConf: string, self: string): string[] {
  const out: string[] = [];
  for (const line of resolvConf.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const ip = m[1]!;
    if (ipFamily(ip) !== 4 || ip.startsWith('127.') || ip === self) continue;
    out.push(ip);
  }
  return out;
}

/** A question for the mesh: `name`, a container, alias or service name. */
export interface MeshQuestion {
  name: string;
  /** Asked as <name>.<zone>: the answer is authoritative (NXDOMAIN when unknown). */
  inZone: boolean;
}

/**
 * What a question asks of the mesh: `[tasks.]<name>.<zone>` (the name may have dots, as aliases and
 * `<service>.<project>` do), a bare `<name>` or `tasks.<name>` (single label); null for anything else.
 */
export function meshQuestionOf(question: string, zone: string): MeshQuestion | null {
  const full = question.replace(/\.$/, '').toLowerCase();
  const inZone = full.endsWith(`.${zone}`);
  let name = inZone ? full.slice(0, -zone.length - 1) : full;
  // tasks.<name> lists every replica, as in Swarm; so does <name>: Docker answers it itself when it can.
  if (name.startsWith('tasks.') && name.length > 'tasks.'.length) name = name.slice('tasks.'.length);
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name)) return null;
  if (!inZone && name.includes('.')) return null;
  return { name, inZone };
}

/** The addresses in a new random order (Fisher-Yates), so that clients taking the first spread out. */
export function shuffled(ips: readonly number[]): number[] {
  const out = [...ips];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

interface Server {
  address: string;
  port: number;
}

interface PendingForward {
  socket: dgram.Socket;
  timer: NodeJS.Timeout;
}

export class ContainerDns {
  private readonly socket: dgram.Socket;
  private readonly forwards = new Set<PendingForward>();

  private constructor(
    private readonly zone: string,
    private readonly names: NameSource,
    private readonly servers: Server[],
    private readonly log: Logger,
  ) {
    this.socket = dgram.createSocket('udp4');
  }

  /** Binds `address:port` (the bridge gateway, port 53) and serves `zone` (the network name). */
  static async start(options: { address: string; port: number; zone: string; names: NameSource; log: Logger; upstream?: Server[] }): Promise<ContainerDns> {
    let servers = options.upstream;
    if (!servers) {
      let conf = '';
      try {
        conf = readFileSync('/etc/resolv.conf', 'utf8');
      } catch {
        // no resolv.conf: names outside the zone get SERVFAIL
      }
      servers = upstreamServers(conf, options.address).map((address) => ({ address, port: 53 }));
    }
    const dns = new ContainerDns(options.zone.toLowerCase(), options.names, servers, options.log);
    await new Promise<void>((resolve, reject) => {
      dns.socket.once('error', reject);
      dns.socket.bind({ address: options.address, port: options.port }, () => {
        dns.socket.off('error', reject);
        resolve();
      });
    });
    dns.socket.on('error', (err) => dns.log.warn({ reason: err.message }, 'container DNS socket error'));
    dns.socket.on('message', (data, rinfo) => void dns.answer(data, { address: rinfo.address, port: rinfo.port }));
    options.log.info({ address: `${options.address}:${dns.port}`, zone: options.zone, upstream: dns.servers.map((s) => s.address) }, 'docker: serving container names');
    return dns;
  }

  get port(): number {
    return this.socket.address().port;
  }

  async stop(): Promise<void> {
    for (const f of this.forwards) this.finish(f);
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private async answer(data: Buffer, from: { address: string; port: number }): Promise<void> {
    let query: DecodedPacket & { opcode?: string };
    try {
      query = dnsPacket.decode(data);
    } catch {
      return; // malformed: dropped
    }
    const question = query.questions?.[0];
    if (query.type !== 'query' || query.opcode !== 'QUERY' || !question || query.questions!.length !== 1) return;
    const asked = meshQuestionOf(question.name, this.zone);
    if (asked === null || (!asked.inZone && !(question.type === 'A' || question.type === 'AAAA'))) return this.forward(data, query, from);
    // The mesh's answer includes this host's containers once the lighthouses have our table; until
    // then (or without a lighthouse) the local ones still answer.
    let remote: number[];
    try {
      remote = await this.names.remote(asked.name);
    } catch (err) {
      this.log.debug({ name: asked.name, reason: (err as Error).message }, 'container DNS: mesh lookup failed');
      remote = [];
    }
    const ips = [...new Set([...this.names.local(asked.name), ...remote])];
    // A bare name nobody in the mesh knows may still be a real host name: let the upstream answer.
    if (ips.length === 0 && !asked.inZone) return this.forward(data, query, from);
    const answers: Answer[] = question.type === 'A' ? shuffled(ips).map((ip) => ({ type: 'A', name: question.name, ttl: TTL_SECONDS, data: formatIp(ip) })) : [];
    const rcode = ips.length === 0 ? RCODE_NXDOMAIN : 0;
    this.reply(query, answers, rcode, from);
  }

  private reply(query: DecodedPacket, answers: Answer[], rcode: number, to: { address: string; port: number }): void {
    const flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | (query.flags! & dnsPacket.RECURSION_DESIRED) | rcode;
    this.socket.send(dnsPacket.encode({ type: 'response', id: query.id, flags, questions: query.questions, answers }), to.port, to.address);
  }

  /**
   * Forwards a query from a fresh socket (a kernel-chosen random port) with a random ID, so that an
   * off-path attacker has to guess both to slip a forged answer to the containers.
   */
  private forward(data: Buffer, query: DecodedPacket, client: { address: string; port: number }): void {
    const server = this.servers[0];
    if (!server || this.forwards.size >= MAX_PENDING_FORWARDS) return this.reply(query, [], RCODE_SERVFAIL, client);
    // Not randomInt, whose cache a start-up snapshot can freeze (src/node/name-directory.ts).
    const id = randomBytes(2).readUInt16BE(0);
    const out = Buffer.from(data);
    out.writeUInt16BE(id, 0);
    const failed = () => {
      this.finish(pending);
      this.reply(query, [], RCODE_SERVFAIL, client);
    };
    const pending: PendingForward = { socket: dgram.createSocket('udp4'), timer: setTimeout(failed, FORWARD_TIMEOUT_MS) };
    pending.timer.unref();
    this.forwards.add(pending);
    pending.socket.on('error', (err) => {
      this.log.debug({ upstream: server.address, reason: err.message }, 'container DNS: forwarding failed');
      failed();
    });
    pending.socket.on('message', (answer, from) => {
      if (answer.length < 12 || answer.readUInt16BE(0) !== id || from.address !== server.address || from.port !== server.port) return;
      this.finish(pending);
      const relayed = Buffer.from(answer);
      relayed.writeUInt16BE(query.id ?? 0, 0);
      this.socket.send(relayed, client.port, client.address);
    });
    pending.socket.send(out, server.port, server.address);
  }

  private finish(pending: PendingForward): void {
    if (!this.forwards.delete(pending)) return;
    clearTimeout(pending.timer);
    pending.socket.close();
  }
}
