import { lookup } from 'node:dns/promises';
import type { Logger } from 'pino';
import { UserError } from '../errors.js';
import type { TunDevice, TunOptions, TunRoute } from '../io/tun.js';
import type { Endpoint, OutgoingDatagram, UdpBind, UdpOptions } from '../io/udp.js';
import { cidrContains, cidrsOverlap, formatCidr, formatIp, parseIp, type Cidr } from '../net/ipv4.js';
import { aeadImplementation, type CipherName } from '../protocol/aead.js';
import { HEADER_LEN, MessageSubType, MessageType, writeHeader } from '../protocol/header.js';
import type { NodeConfig } from './config.js';
import { ConnectionManager } from './connection-manager.js';
import { Firewall } from './firewall.js';
import { HandshakeManager } from './handshake-manager.js';
import { HostInfo, HostMap } from './hostmap.js';
import { LocalIdentity } from './identity.js';
import { consumeTunPackets } from './inside.js';
import { consumeDatagrams } from './outside.js';
import { endpointKey, RemoteList, sameEndpoint } from './remote-list.js';
import { DisabledTun } from './tun-disabled.js';
import { LighthouseServer } from '../../lighthouse/server.js';
import { StunResponder } from '../../lighthouse/stun.js';
import { LighthouseDns } from '../../lighthouse/dns.js';
import { isStunRequest } from '../protocol/stun.js';
import { LighthouseClient, type InterfaceSource } from './lighthouse-client.js';
import { NatDiscovery } from './nat-discovery.js';
import { RelayManager } from './relay-manager.js';
import { decodeMeta } from '../protocol/messages.js';
import { NameDirectory } from './name-directory.js';
import { SubnetRouter } from './subnet-router.js';
import { allowListAllows } from '../net/allow-list.js';

export interface NodeStats {
  rxPackets: number;
  txPackets: number;
  dropped: Record<string, number>;
  recvErrorsSent: number;
  handshakeTimeouts: number;
  invalidCertificates: number;
  deadTunnels: number;
  firewallDrops: number;
}

export interface NodeDeps {
  openTun?: (options: TunOptions) => TunDevice;
  bindUdp?: (options: UdpOptions) => Promise<UdpBind>;
  now?: () => Date;
  /** Local interface addresses reported to lighthouses (default os.networkInterfaces). */
  networkInterfaces?: InterfaceSource;
}

interface UnsafeRoute {
  cidr: Cidr;
  via: number;
}

/** How long two switches of a peer's address must be apart before we switch back (Nebula: 2 s). */
const ROAMING_SUPPRESS_MS = 2000;

/**
 * A running mesh node: one UDP socket, one TUN device, and the tunnels between them. The protocol
 * concepts live in their own files (handshake manager, host map, connection manager, firewall,
 * inside/outside paths); this class owns their shared state and the send primitives.
 */
export class MeshNode {
  readonly hostmap: HostMap;
  readonly handshakes: HandshakeManager;
  readonly connections: ConnectionManager;
  /** The address book, when this node is a lighthouse (`lighthouse.am_lighthouse`). */
  readonly lighthouse: LighthouseServer | null;
  readonly lighthouseClient: LighthouseClient;
  readonly relays: RelayManager;
  readonly nat: NatDiscovery;
  /** Container subnets of other hosts, found without unsafe_routes (`--docker-bridge`). */
  readonly subnets: SubnetRouter;
  /** Container names across the mesh (`--docker-bridge`). */
  readonly names: NameDirectory;
  /** Lighthouses answer STUN Binding requests (lighthouse/stun.ts). */
  stunResponder: StunResponder | null = null;
  /** `lighthouse.serve_dns` (lighthouse/dns.ts). */
  dns: LighthouseDns | null = null;
  readonly stats: NodeStats = {
    rxPackets: 0,
    txPackets: 0,
    dropped: {},
    recvErrorsSent: 0,
    handshakeTimeouts: 0,
    invalidCertificates: 0,
    deadTunnels: 0,
    firewallDrops: 0,
  };
  firewall: Firewall;
  unsafeRoutes: UnsafeRoute[] = [];
  private readonly dropLogAt = new Map<string, number>();
  private readonly scratchHeader = Buffer.alloc(HEADER_LEN);
  private stopped = false;
  private lastSource = { address: '', inOverlay: false };

  private constructor(
    public config: NodeConfig,
    public identity: LocalIdentity,
    readonly log: Logger,
    readonly udp: UdpBind,
    readonly tun: TunDevice,
  ) {
    const preferred = config.preferredRanges;
    this.hostmap = new HostMap(() => new RemoteList(preferred));
    this.handshakes = new HandshakeManager(this);
    this.connections = new ConnectionManager(this);
    this.lighthouse = config.lighthouse.amLighthouse ? new LighthouseServer(this) : null;
    this.lighthouseClient = new LighthouseClient(this);
    this.relays = new RelayManager(this);
    this.nat = new NatDiscovery(this);
    this.subnets = new SubnetRouter(this);
    this.names = new NameDirectory(this);
    this.firewall = Firewall.fromConfig(config.firewall, identity.localCidrs());
    this.unsafeRoutes = config.tun.unsafeRoutes.map((r) => ({ cidr: r.route, via: r.via }));
  }

  static async start(config: NodeConfig, log: Logger, deps: NodeDeps = {}): Promise<MeshNode> {
    const identity = LocalIdentity.fromConfig(config.pki, deps.now?.() ?? new Date());
    validateAgainstCertificate(config, identity);
    const staticHosts = await resolveStaticHosts(config);
    let tun: TunDevice;
    if (config.tun.disabled) {
      tun = new DisabledTun(identity.vpnIp, config.tun.mtu);
    } else {
      if (!deps.openTun) throw new UserError('tun: no TUN implementation available');
      const routes: TunRoute[] = [
        ...config.tun.routes.map((r) => ({ cidr: r.route, mtu: r.mtu || undefined })),
        // mtu 0 (not set) means the device MTU, as in Nebula.
        ...config.tun.unsafeRoutes.map((r) => ({ cidr: r.route, mtu: r.mtu || undefined, metric: r.metric })),
      ];
      tun = deps.openTun({ name: config.tun.dev || undefined, mtu: config.tun.mtu, address: identity.vpnNetwork, routes, txQueueLength: config.tun.txQueue });
    }
    let udp: UdpBind;
    try {
      if (!deps.bindUdp) throw new UserError('listen: no UDP implementation available');
      udp = await deps.bindUdp({
        host: config.listen.host,
        port: config.listen.port,
        readBuffer: config.listen.readBuffer,
        writeBuffer: config.listen.writeBuffer,
        batch: config.listen.batch,
      });
    } catch (err) {
      tun.close();
      throw err instanceof UserError ? err : new UserError(`listen: cannot bind ${config.listen.host}:${config.listen.port}: ${(err as Error).message}`);
    }
    const node = new MeshNode(config, identity, log, udp, tun);
    for (const [vpnIp, addrs] of staticHosts) node.hostmap.remotesFor(vpnIp).setStatic(addrs);
    udp.onDatagrams((batch) => consumeDatagrams(node, batch));
    tun.onPackets((packets) => consumeTunPackets(node, packets));
    node.lighthouseClient.start(deps.networkInterfaces);
    node.nat.start();
    node.relays.start();
    if (config.lighthouse.amLighthouse) await node.startLighthouseServices(deps);
    log.info(
      { vpnIp: formatIp(identity.vpnIp), cert: identity.cert.details.name, fingerprint: identity.fingerprint, listen: `${config.listen.host}:${udp.localPort}`, tun: tun.name, cipher: config.cipher, aead: aeadImplementation() },
      'mesh node started',
    );
    return node;
  }

  /** STUN and DNS are aids: when they cannot bind, the lighthouse runs without them (as Nebula does for DNS). */
  private async startLighthouseServices(deps: NodeDeps): Promise<void> {
    this.stunResponder = await StunResponder.start(this, deps.bindUdp);
    if (!this.config.lighthouse.serveDns) return;
    try {
      this.dns = await LighthouseDns.start(this);
    } catch (err) {
      this.log.error({ reason: (err as Error).message, host: this.config.lighthouse.dns.host, port: this.config.lighthouse.dns.port }, 'lighthouse.dns: cannot start the DNS server');
    }
  }

  get cipher(): CipherName {
    return this.config.cipher;
  }

  get listenPort(): number {
    return this.udp.localPort;
  }

  /** Sends raw bytes (handshakes, punches) without touching any tunnel state. */
  sendRaw(data: Uint8Array, to: Endpoint): void {
    this.udp.send([{ data, to }]);
  }

  /** Handshake message 2 goes back the way message 1 came: directly, or through the relay hop `via`. */
  sendHandshakeReply(message: Buffer, to: Endpoint | null, via?: HostInfo): void {
    if (to) this.sendRaw(message, to);
    else if (via) this.relays.sendHandshakeVia(via, message);
  }

  /** Encrypts one message for an established tunnel; returns the datagram to send. */
  seal(host: HostInfo, type: number, subtype: number, payload: Uint8Array): Buffer {
    const counter = ++host.messageCounter;
    writeHeader(this.scratchHeader, 0, type, subtype, host.remoteIndex, counter);
    return host.encrypt!.encryptPacket(this.scratchHeader, counter, payload);
  }

  /**
   * Sends a message to a peer by overlay IP, starting a handshake and queueing the message when
   * there is no tunnel yet.
   */
  sendTo(vpnIp: number, type: number, subtype: number, payload: Uint8Array, out?: OutgoingDatagram[]): void {
    const host = this.hostmap.get(vpnIp);
    if (!host) {
      const pending = this.handshakes.start(vpnIp);
      pending.enqueue(type, subtype, payload);
      return;
    }
    this.sendOn(host, type, subtype, payload, out);
  }

  /** Sends on an established tunnel: to its address, or wrapped in a relay frame when it has none. */
  sendOn(host: HostInfo, type: number, subtype: number, payload: Uint8Array, out?: OutgoingDatagram[]): void {
    const datagram = this.seal(host, type, subtype, payload);
    if (!host.remote) {
      if (this.relays.sendRelayed(host, datagram, out)) this.connections.outbound(host);
      return;
    }
    this.connections.outbound(host);
    this.stats.txPackets++;
    if (out) out.push({ data: datagram, to: host.remote });
    else this.udp.send([{ data: datagram, to: host.remote }]);
  }

  sendTest(host: HostInfo): void {
    if (host.established) this.sendOn(host, MessageType.Test, MessageSubType.TestRequest, Buffer.alloc(0));
  }

  sendRecvError(to: Endpoint, remoteIndex: number): void {
    const mode = this.config.listen.sendRecvError;
    if (mode === 'never' || (mode === 'private' && !isPrivateAddress(to.address))) return;
    const packet = Buffer.alloc(HEADER_LEN);
    writeHeader(packet, 0, MessageType.RecvError, 0, remoteIndex, 0);
    this.stats.recvErrorsSent++;
    this.sendRaw(packet, to);
  }

  /** Called by the handshake manager when a tunnel is established. */
  tunnelUp(host: HostInfo, _via?: HostInfo): void {
    const replaced = this.hostmap.add(host);
    if (replaced) {
      this.log.debug({ vpnIp: formatIp(host.vpnIp), oldIndex: replaced.localIndex }, 'tunnel replaced by a newer handshake');
      this.relays.onTunnelGone(replaced);
    }
    this.lighthouse?.onTunnelUp(host);
    this.lighthouseClient.onTunnelUp(host);
    this.subnets.onTunnelUp(host);
    const queued = host.queue;
    host.queue = [];
    if (queued.length === 0) return;
    const out: OutgoingDatagram[] = [];
    for (const m of queued) {
      if (m.type === MessageType.Message && m.subtype === MessageSubType.None) {
        const reason = this.firewall.outbound(m.payload, host.identity!);
        if (reason) {
          this.firewallDrop('outbound', reason, host);
          continue;
        }
      }
      this.sendOn(host, m.type, m.subtype, m.payload, out);
    }
    if (out.length > 0) this.udp.send(out);
  }

  /** Tears a tunnel down locally; with `notify`, tells the peer with a closeTunnel first. */
  removeTunnel(host: HostInfo, notify: boolean): void {
    if (notify && host.established) this.sendOn(host, MessageType.CloseTunnel, 0, Buffer.alloc(0));
    if (!this.hostmap.remove(host)) return;
    this.relays.onTunnelGone(host);
    this.lighthouse?.onTunnelGone(host);
    const candidate = this.hostmap.getCandidate(host.vpnIp);
    if (candidate) this.promoteCandidate(candidate, 'the old tunnel is gone');
    else this.hostmap.forgetRemotes(host.vpnIp);
  }

  /** A candidate tunnel (a newer handshake we answered) becomes the tunnel to its peer. */
  promoteCandidate(host: HostInfo, why: string): void {
    if (!this.hostmap.takeCandidate(host)) return;
    this.log.info({ vpnIp: formatIp(host.vpnIp), localIndex: host.localIndex, remoteIndex: host.remoteIndex, why }, 'switching to the newer tunnel');
    this.tunnelUp(host);
  }

  /** Switches a tunnel to the address an authenticated packet came from (roaming). */
  roam(host: HostInfo, from: Endpoint): void {
    if (sameEndpoint(host.remote, from)) return;
    if (!this.remoteAllowed(host.vpnIp, from)) return;
    const now = Date.now();
    const prev = host.previousRemote;
    if (prev && sameEndpoint(prev.addr, from) && now - prev.at < ROAMING_SUPPRESS_MS) return;
    this.log.info({ vpnIp: formatIp(host.vpnIp), from: host.remote && endpointKey(host.remote), to: endpointKey(from) }, 'host roamed to a new address');
    if (host.remote) host.previousRemote = { addr: host.remote, at: now };
    host.remote = { ...from };
    host.remotes.learn(from);
    this.lighthouse?.onRoam(host, from);
  }

  /**
   * `lighthouse.remote_allow_list`, refined per overlay range by `remote_allow_ranges`, applied to
   * an underlay address (handshakes, roaming, lighthouse answers).
   */
  remoteAllowed(vpnIp: number, addr: Endpoint): boolean {
    return remoteAllowedBy(this.config, vpnIp, addr);
  }

  /** Lighthouse messages (header type 3) from an established tunnel. */
  onLighthouseMessage(host: HostInfo, payload: Buffer): void {
    let meta;
    try {
      meta = decodeMeta(payload);
    } catch (err) {
      this.drop('lighthouse-malformed', host.remote, err);
      return;
    }
    if (this.lighthouse) this.lighthouse.handle(host, meta);
    else this.lighthouseClient.handle(host, meta);
  }

  /** Control messages (header type 6: relay set-up) from an established tunnel. */
  onControlMessage(host: HostInfo, payload: Buffer): void {
    this.relays.handleControl(host, payload);
  }

  /** A STUN message on the node's socket: requests are answered by lighthouses, responses feed NAT discovery. */
  onStun(data: Buffer, from: Endpoint): void {
    if (this.stunResponder && isStunRequest(data)) this.stunResponder.answer(data, from);
    else this.nat.handle(data, from);
  }

  onHandshakeStart(host: HostInfo): void {
    this.lighthouseClient.onHandshakeStart(host);
  }

  onHandshakeAttempt(host: HostInfo, message: Buffer): void {
    this.lighthouseClient.onHandshakeAttempt(host);
    this.relays.onHandshakeAttempt(host, message);
  }

  /** Re-validates a peer certificate (pki.disconnect_invalid); closes the tunnel when it fails. */
  stillValid(host: HostInfo): boolean {
    try {
      this.identity.caPool.verify(host.cert!, new Date(), this.identity.blocklist);
      return true;
    } catch (err) {
      this.log.info({ vpnIp: formatIp(host.vpnIp), reason: (err as Error).message }, 'peer certificate no longer valid, closing tunnel');
      this.removeTunnel(host, true);
      return false;
    }
  }

  /** True at most once per second per key: keeps logs about hostile or repeated input bounded. */
  private logAllowed(key: string): boolean {
    const now = Date.now();
    const last = this.dropLogAt.get(key);
    if (last !== undefined && now - last < 1000) return false;
    if (this.dropLogAt.size > 4096) this.dropLogAt.clear();
    this.dropLogAt.set(key, now);
    return true;
  }

  /** Logs at info at most once per second per key (refused handshakes can be retransmitted or forged in bulk). */
  infoLimited(key: string, fields: Record<string, unknown>, message: string): void {
    if (this.logAllowed(key)) this.log.info(fields, message);
  }

  /** Counts a dropped datagram and logs it at debug, at most once per second per source. */
  drop(kind: string, from: Endpoint | null, err?: unknown): void {
    this.stats.dropped[kind] = (this.stats.dropped[kind] ?? 0) + 1;
    if (!this.log.isLevelEnabled('debug')) return;
    const source = from ? endpointKey(from) : 'relay';
    if (!this.logAllowed(`${kind} ${source}`)) return;
    this.log.debug({ from: source, kind, reason: err instanceof Error ? err.message : err, total: this.stats.dropped[kind] }, 'dropped datagram');
  }

  firewallDrop(direction: 'inbound' | 'outbound', reason: string, host: HostInfo | null): void {
    this.stats.firewallDrops++;
    const kind = `firewall-${direction}`;
    this.stats.dropped[kind] = (this.stats.dropped[kind] ?? 0) + 1;
    if (!this.log.isLevelEnabled('debug') || !this.logAllowed(`${kind} ${host?.vpnIp ?? 0}`)) return;
    this.log.debug({ direction, reason, vpnIp: host ? formatIp(host.vpnIp) : undefined }, 'firewall dropped packet');
  }

  /**
   * Whether an underlay source address lies inside our overlay network (a tunnel inside the
   * tunnel, dropped). Batches mostly come from one peer, so the last answer is remembered.
   */
  isOverlayAddress(address: string): boolean {
    if (address !== this.lastSource.address) {
      this.lastSource = { address, inOverlay: !address.includes(':') && this.identity.inVpnNetwork(parseIp(address)) };
    }
    return this.lastSource.inOverlay;
  }

  /** Which overlay IP a destination is reached through: itself inside the VPN network, or an unsafe route's `via`. */
  routeFor(dst: number): number | null {
    if (this.identity.inVpnNetwork(dst)) return dst;
    let best: UnsafeRoute | null = null;
    for (const r of this.unsafeRoutes) if (cidrContains(r.cidr, dst) && (!best || r.cidr.bits > best.cidr.bits)) best = r;
    return best ? best.via : this.subnets.ownerOf(dst);
  }

  /**
   * SIGHUP: re-reads the certificate, key, CA and firewall. A new certificate must keep the same
   * overlay IP; new settings apply to new handshakes, existing tunnels stay up.
   */
  reload(config: NodeConfig): void {
    const identity = LocalIdentity.fromConfig(config.pki);
    if (identity.vpnIp !== this.identity.vpnIp) {
      throw new UserError(`pki.cert: the new certificate has overlay IP ${formatIp(identity.vpnIp)}, the running node has ${formatIp(this.identity.vpnIp)}; restart to change it`);
    }
    validateAgainstCertificate(config, identity);
    const firewall = this.firewall.withRules(config.firewall, identity.localCidrs());
    this.identity = identity;
    this.firewall = firewall;
    this.config = config;
    this.unsafeRoutes = config.tun.unsafeRoutes.map((r) => ({ cidr: r.route, via: r.via }));
    this.nat.refresh();
    this.lighthouseClient.reload();
    this.log.info({ fingerprint: identity.fingerprint }, 'configuration reloaded');
  }

  /** SIGTERM: closes every tunnel (telling each peer), removes the TUN device and the socket. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.handshakes.stopAll();
    this.lighthouseClient.stop();
    this.nat.stop();
    this.subnets.stop();
    this.names.stop();
    this.lighthouse?.stop();
    await this.stunResponder?.stop();
    await this.dns?.stop();
    for (const candidate of [...this.hostmap.candidateHosts()]) this.hostmap.removeCandidate(candidate);
    const out: OutgoingDatagram[] = [];
    // Relayed tunnels first: their closeTunnel must pass the relay before the hop tunnel closes.
    const hosts = [...this.hostmap.hosts()].sort((a, b) => Number(a.remote !== null) - Number(b.remote !== null));
    for (const host of hosts) {
      if (host.established) this.sendOn(host, MessageType.CloseTunnel, 0, Buffer.alloc(0), out);
      this.hostmap.remove(host);
    }
    if (out.length > 0) this.udp.send(out);
    this.relays.stop();
    this.tun.close();
    await this.udp.close();
    this.log.info('mesh node stopped');
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

/** Nebula's RemoteAllowList.Allow: the most specific `remote_allow_ranges` entry and the main list must both allow. */
function remoteAllowedBy(config: NodeConfig, vpnIp: number, addr: Endpoint): boolean {
  const { remoteAllowList, remoteAllowRanges } = config.lighthouse;
  let inside: (typeof remoteAllowRanges)[number] | null = null;
  for (const range of remoteAllowRanges) {
    if (cidrContains(range.inside, vpnIp) && (!inside || range.inside.bits > inside.inside.bits)) inside = range;
  }
  if (inside && !allowListAllows(inside.allowList, addr.address)) return false;
  return allowListAllows(remoteAllowList, addr.address);
}

const PRIVATE_RANGES: Cidr[] = [
  { ip: 0x0a000000, bits: 8 },
  { ip: 0xac100000, bits: 12 },
  { ip: 0xc0a80000, bits: 16 },
  { ip: 0x7f000000, bits: 8 },
];

function isPrivateAddress(address: string): boolean {
  if (address.includes(':')) return /^f[cd]/i.test(address) || address === '::1';
  const ip = parseIp(address);
  return PRIVATE_RANGES.some((r) => cidrContains(r, ip));
}

/** Checks the parts of the config that depend on our certificate, with Nebula's rules. */
function validateAgainstCertificate(config: NodeConfig, identity: LocalIdentity): void {
  const net = identity.vpnNetwork;
  for (const lh of config.lighthouse.hosts) {
    if (!identity.inVpnNetwork(lh)) throw new UserError(`lighthouse.hosts: ${formatIp(lh)} is not inside the overlay network ${formatCidr({ ip: net.ip, bits: net.bits })}`);
  }
  for (const vpnIp of config.staticHostMap.keys()) {
    if (!identity.inVpnNetwork(vpnIp)) throw new UserError(`static_host_map: ${formatIp(vpnIp)} is not inside the overlay network ${formatCidr(net)}`);
  }
  for (const r of config.tun.routes) {
    if (!cidrsOverlap(r.route, net) || r.route.bits < net.bits) throw new UserError(`tun.routes: ${formatCidr(r.route)} is not inside the overlay network ${formatCidr(net)}`);
  }
  for (const r of config.tun.unsafeRoutes) {
    if (cidrsOverlap(r.route, net)) throw new UserError(`tun.unsafe_routes: ${formatCidr(r.route)} overlaps the overlay network ${formatCidr(net)}`);
    if (!identity.inVpnNetwork(r.via)) throw new UserError(`tun.unsafe_routes: via ${formatIp(r.via)} is not inside the overlay network ${formatCidr(net)}`);
  }
}

async function resolveStaticHosts(config: NodeConfig): Promise<Map<number, Endpoint[]>> {
  const result = new Map<number, Endpoint[]>();
  for (const [vpnIp, entries] of config.staticHostMap) {
    const addrs: Endpoint[] = [];
    for (const entry of entries) {
      try {
        const resolved = await lookup(entry.host, { all: true });
        for (const r of resolved) addrs.push({ address: r.address, port: entry.port });
      } catch (err) {
        throw new UserError(`static_host_map: cannot resolve "${entry.host}" for ${formatIp(vpnIp)}: ${(err as Error).message}`);
      }
    }
    result.set(vpnIp, addrs);
  }
  return result;
}
