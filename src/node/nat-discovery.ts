import { endpointKey, sameEndpoint, type Endpoint } from '../net/endpoint.js';
import type { NatMapping } from '../protocol/messages.js';
import type { Diagnostics } from './diagnostics.js';
import { whenQuiet } from './quiet.js';
import type { Timer, Timers } from './timers.js';
import { formatVpnAddr, type VpnAddr } from '../net/ip.js';

/** What NAT discovery needs from its node. */
export interface NatDiscoveryDeps {
  readonly diag: Diagnostics;
  readonly timers: Timers;
  /** stun.interval in ms (0: off) and the lighthouses to ask. */
  settings(): { interval: number; lighthouses: readonly VpnAddr[] };
  /** A lighthouse's static_host_map addresses: where its STUN server listens. */
  staticAddressesOf(vpnIp: VpnAddr): readonly Endpoint[];
  sendRaw(data: Uint8Array, to: Endpoint): void;
  /** A count that grows with every datagram the node receives or sends: when it is quiet. */
  activity(): number;
}

/** Unanswered requests retried at once (after the reply timeout) before backing off. */
const QUICK_RETRIES = 2;
/** Longest pause between tries to a server that does not answer, in intervals. */
const MAX_BACKOFF_INTERVALS = 16;
const MAX_REPLY_TIMEOUT_MS = 3000;
/** A node that is never quiet starts discovery this long after its start all the same. */
const LATEST_START_MS = 2000;

type Mapping = NatMapping;

interface StunServer {
  endpoint: Endpoint;
  key: string;
  /** Learned from this server's OTHER-ADDRESS (its second port). */
  alternate: StunServer | null;
  isAlternate: boolean;
  /** Consecutive requests without an answer. */
  failures: number;
  /** Our socket's address as this server last saw it. */
  mapped: Endpoint | null;
  pending: string | null;
  timer: Timer | null;
}

/**
 * STUN towards the lighthouses (Binding requests from the node's own socket to each lighthouse's
 * static_host_map addresses, and to the second port a lighthouse names in OTHER-ADDRESS): the node's
 * reflexive address, and whether its NAT maps the socket differently per destination (symmetric).
 * A real Nebula lighthouse never answers; after a few tries such a server is asked ever more rarely.
 */
export class NatDiscovery {
  private servers = new Map<string, StunServer>();
  /** Transaction ID (hex) → the server asked; at most one outstanding request per server. */
  private readonly transactions = new Map<string, StunServer>();
  private latest: Endpoint | null = null;
  private mapping: Mapping = 'unknown';
  private logged = '';
  /** The STUN codec, loaded when discovery starts (the package is slow to load, and not every node asks). */
  private codec: typeof import('../protocol/stun-codec.js') | null = null;
  private startTimer: Timer | null = null;
  /** Counts stops: a start that was loading the codec meanwhile sends nothing. */
  private generation = 0;
  private codecLoadedNow!: () => void;
  /** Resolves once the codec has been loaded (never, if discovery never starts): what the load left behind can then be handed back. */
  readonly codecLoaded = new Promise<void>((resolve) => (this.codecLoadedNow = resolve));

  constructor(private readonly deps: NatDiscoveryDeps) {}

  /** Our address as the lighthouses see it (STUN XOR-MAPPED-ADDRESS), once known. */
  get reflexive(): Endpoint | null {
    return this.latest;
  }

  /** How our NAT maps the socket, as far as the STUN answers so far tell. */
  get natMapping(): NatMapping {
    return this.mapping;
  }

  /** True once two STUN servers saw different mappings: punching cannot work, use a relay at once. */
  get symmetric(): boolean {
    return this.mapping === 'endpoint-dependent';
  }

  /**
   * Discovery at a node's start waits for the node to be quiet (or at most LATEST_START_MS): loading
   * the codec stalls the event loop for 20-50 ms, which at once would hold back the lighthouse
   * update and query that the first handshake queued (the first ping through a lighthouse took
   * 40 ms longer). Nebula has no STUN: nothing else waits for the answer but relay choices.
   */
  startWhenQuiet(): void {
    if (!this.enabled) return;
    this.startTimer?.cancel();
    this.startTimer = whenQuiet(this.deps.timers, () => this.deps.activity(), () => void this.start(), LATEST_START_MS);
  }

  /** Asks every lighthouse now; a codec that cannot be loaded (a broken install) is logged, and discovery stays off. */
  async start(): Promise<void> {
    this.startTimer?.cancel();
    this.startTimer = null;
    if (!this.enabled) return;
    const generation = this.generation;
    try {
      this.codec ??= await import('../protocol/stun-codec.js');
      this.codecLoadedNow();
    } catch (err) {
      this.deps.diag.log.error({ reason: (err as Error).message }, 'STUN: cannot load the codec, NAT discovery is off');
      return;
    }
    if (generation !== this.generation) return;
    const { lighthouses } = this.deps.settings();
    for (const lighthouse of lighthouses) {
      for (const endpoint of this.deps.staticAddressesOf(lighthouse)) {
        const server = this.addServer(endpoint, false);
        if (server) this.query(server);
      }
    }
    this.deps.diag.log.debug({ servers: [...this.servers.keys()], lighthouses: lighthouses.map(formatVpnAddr) }, 'STUN: asking the lighthouses for our address');
  }

  stop(): void {
    this.generation++;
    this.startTimer?.cancel();
    this.startTimer = null;
    for (const server of this.servers.values()) server.timer?.cancel();
    this.servers.clear();
    this.transactions.clear();
  }

  /** SIGHUP: ask every server again now, forgetting back-off (the network may have changed). */
  refresh(): Promise<void> {
    this.stop();
    return this.start();
  }

  /** A STUN message arrived on the node's UDP socket (requests only reach us on non-lighthouses). */
  handle(data: Buffer, from: Endpoint): void {
    if (!this.codec) return this.deps.diag.drop('stun-unsolicited', from);
    const decoded = this.codec.decodeStunAs(data, 'binding-success', 'stun-request-not-lighthouse');
    if ('drop' in decoded) return this.deps.diag.drop(decoded.drop, from, decoded.err);
    const message = decoded.message;
    const id = message.transactionId.toString('hex');
    const server = this.transactions.get(id);
    if (!server || !sameEndpoint(server.endpoint, from)) {
      this.deps.diag.drop('stun-unsolicited', from);
      return;
    }
    this.transactions.delete(id);
    server.pending = null;
    server.failures = 0;
    this.schedule(server, this.interval);
    this.record(server, message.mapped);
    if (message.other && !server.isAlternate) this.learnAlternate(server, message.other);
  }

  /** Discovery asks only with stun.interval set and lighthouses to ask. */
  private get enabled(): boolean {
    const { interval, lighthouses } = this.deps.settings();
    return interval !== 0 && lighthouses.length > 0;
  }

  private get interval(): number {
    return this.deps.settings().interval;
  }

  private addServer(endpoint: Endpoint, isAlternate: boolean): StunServer | null {
    const key = endpointKey(endpoint);
    if (this.servers.has(key)) return null;
    const server: StunServer = { endpoint: { ...endpoint }, key, alternate: null, isAlternate, failures: 0, mapped: null, pending: null, timer: null };
    this.servers.set(key, server);
    return server;
  }

  /**
   * The port comes from OTHER-ADDRESS, the address is the one we asked: a forged reply must not make
   * us send to arbitrary hosts, and a lighthouse on a wildcard address names no address of its own.
   */
  private learnAlternate(primary: StunServer, other: Endpoint): void {
    const endpoint = { address: primary.endpoint.address, port: other.port };
    if (other.port === 0 || sameEndpoint(primary.alternate?.endpoint, endpoint)) return;
    if (primary.alternate) this.removeServer(primary.alternate);
    const alternate = this.addServer(endpoint, true);
    primary.alternate = alternate;
    if (alternate) this.query(alternate);
  }

  private removeServer(server: StunServer): void {
    server.timer?.cancel();
    if (server.pending) this.transactions.delete(server.pending);
    this.servers.delete(server.key);
  }

  private query(server: StunServer): void {
    if (server.pending) this.transactions.delete(server.pending);
    const { newTransactionId, encodeBindingRequest } = this.codec!;
    const id = newTransactionId();
    server.pending = id.toString('hex');
    this.transactions.set(server.pending, server);
    this.deps.sendRaw(encodeBindingRequest(id), server.endpoint);
    const timeout = Math.min(MAX_REPLY_TIMEOUT_MS, Math.max(1, this.interval / 4));
    this.setTimer(server, timeout, () => this.unanswered(server));
  }

  private unanswered(server: StunServer): void {
    if (server.pending) this.transactions.delete(server.pending);
    server.pending = null;
    server.failures++;
    const backoff = server.failures <= QUICK_RETRIES ? 0 : this.interval * Math.min(MAX_BACKOFF_INTERVALS, 2 ** (server.failures - QUICK_RETRIES - 1));
    if (server.failures === QUICK_RETRIES + 1) this.deps.diag.log.debug({ server: server.key }, 'STUN server does not answer, backing off');
    this.schedule(server, backoff);
  }

  private schedule(server: StunServer, delay: number): void {
    this.setTimer(server, delay, () => this.query(server));
  }

  private setTimer(server: StunServer, delay: number, run: () => void): void {
    server.timer?.cancel();
    server.timer = this.deps.timers.after(delay, () => {
      server.timer = null;
      run();
    });
  }

  /**
   * A server changing its view of our socket means our network changed (or the NAT dropped the
   * mapping): the other servers' views are stale until they answer again.
   */
  private record(server: StunServer, mapped: Endpoint): void {
    if (server.mapped && !sameEndpoint(server.mapped, mapped)) {
      for (const other of this.servers.values()) if (other !== server) other.mapped = null;
    }
    server.mapped = { ...mapped };
    this.latest = server.mapped;
    const seen = [...this.servers.values()].filter((s) => s.mapped);
    const distinct = new Set(seen.map((s) => endpointKey(s.mapped!))).size;
    if (distinct > 1) this.mapping = 'endpoint-dependent';
    else if (seen.length > 1) this.mapping = 'endpoint-independent';
    // With a single current view, the last classification stands until another server answers.
    this.report();
  }

  /** Logs at info when the reflexive address or the classification changes, not on every answer. */
  private report(): void {
    const address = this.latest!.address;
    const summary = `${address} ${this.mapping}`;
    const text = this.mapping === 'endpoint-dependent' ? 'endpoint-dependent (symmetric)' : this.mapping === 'unknown' ? 'unknown (one STUN server answered)' : this.mapping;
    const fields = { reflexive: endpointKey(this.latest!), mapping: this.mapping };
    const message = `NAT: reflexive address ${endpointKey(this.latest!)}, mapping ${text}`;
    if (summary === this.logged) {
      this.deps.diag.limited('debug', 'nat-report', fields, message);
      return;
    }
    this.logged = summary;
    this.deps.diag.limited('info', `nat-change ${summary}`, fields, message);
  }
}
