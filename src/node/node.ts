import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { UserError } from '../errors.js';
import type { NativeFastPath } from '../io/native.js';
import type { TunDevice, TunOptions } from '../io/tun.js';
import type { OutgoingDatagram, UdpBind, UdpOptions } from '../io/udp.js';
import { allowListAllows } from '../net/allow-list.js';
import { endpointKey, sameEndpoint, type Endpoint } from '../net/endpoint.js';
import { cidrContains, cidrsOverlap, formatCidr, parseIp, type Cidr } from '../net/ipv4.js';
import { formatIpPrefix, formatVpnAddr, type IpPrefix, ipPrefixContains, type VpnAddr, vpnAddrOf } from '../net/ip.js';
import { createAead, TAG_LEN, type AeadFactory, type CipherName } from '../protocol/aead.js';
import { HEADER_LEN, MessageSubType, MessageType, writeHeader } from '../protocol/header.js';
import { decodeMeta, emptyMetaDetails, encodeMeta, MetaType, type MetaMessage } from '../protocol/messages.js';
import { certificateFingerprint } from '../../pki/cert.js';
import type { RevocationList } from '../../pki/revocation.js';
import { isStunRequest } from '../protocol/stun.js';
import type { NodeConfig } from './config.js';
import { LARGE_SOCKET_BUFFER } from './config/listen.js';
import { AeadBatchArrays } from './aead-batch.js';
import { ConnectionManager } from './connection-manager.js';
import { Diagnostics, type NodeStats } from './diagnostics.js';
import { deviceDropReasons, readKernelDrops, watchDeviceDrops, type KernelDrops } from './device-drops.js';
import { Firewall } from './firewall.js';
import { HandshakeManager } from './handshake-manager.js';
import { FastPathLink } from './fast-path.js';
import { HostInfo, HostMap } from './hostmap.js';
import { LocalIdentity } from './identity.js';
import { consumeTunPackets, type InsideFilter, type InsideNode } from './inside.js';
import { LighthouseClient, type InterfaceSource } from './lighthouse-client.js';
import { NameDirectory } from './name-directory.js';
import { NatDiscovery } from './nat-discovery.js';
import { consumeDatagrams, consumeRelayedPacket, type OutsideNode } from './outside.js';
import { keepRestartOnlyKeys, kernelRoutesOf, syncKernelRoutes } from './reload.js';
import { RelayManager } from './relay-manager.js';
import { RemoteList } from './remote-list.js';
import { readRevocationFile, Revocations } from './revocations.js';
import { GlobalBudget, RECV_ERRORS_BURST, RECV_ERRORS_PER_SECOND, RECV_ERRORS_TOTAL_BURST, RECV_ERRORS_TOTAL_PER_SECOND, SourceLimiter } from './source-limiter.js';
import { SubnetRouter } from './subnet-router.js';
import { systemTimers, type Timer, type Timers } from './timers.js';
import { DisabledTun } from './tun-disabled.js';

export type { NodeStats };

/** The I/O and environment a node runs on, chosen by the composition root (src/cli). */
export interface NodeDeps {
  openTun?: (options: TunOptions) => TunDevice;
  bindUdp?: (options: UdpOptions) => Promise<UdpBind>;
  now?: () => Date;
  /** Local interface addresses reported to lighthouses (default os.networkInterfaces). */
  networkInterfaces?: InterfaceSource;
  /** The transport AEAD (default node:crypto) and its name for the start-up log. */
  aead?: { factory: AeadFactory; name: string };
  /** The native fast path (tun.fast_path), for a TUN device and socket that can take it. */
  fastPath?: () => NativeFastPath | undefined;
  timers?: Timers;
}

/**
 * What a lighthouse (lighthouse/) adds to a node: it answers the lighthouse messages that arrive on
 * tunnels, and its address book follows the tunnels. The node defines the interface; it never
 * imports a lighthouse.
 */
export interface LighthouseRole {
  handle(host: HostInfo, meta: MetaMessage): void;
  onTunnelUp(host: HostInfo): void;
  onRoam(host: HostInfo): void;
  onTunnelGone(host: HostInfo): void;
}

/** A handler for STUN Binding requests arriving on the node's socket (a lighthouse's responder). */
export type StunAnswerer = (data: Buffer, from: Endpoint) => void;

interface UnsafeRoute {
  cidr: Cidr | IpPrefix;
  via: VpnAddr;
}

/** An answered `mesh ping`: the round trip and the path the reply came by. */
export interface ProbeResult {
  rttMs: number;
  /** The underlay address of a direct tunnel; null when relayed. */
  remote: Endpoint | null;
  /** The relay's overlay IP when relayed. */
  relay: VpnAddr | null;
}

interface PendingProbe {
  vpnIp: VpnAddr;
  sentAt: number;
  timer: Timer;
  done: (result: ProbeResult | null) => void;
}

/** How long two switches of a peer's address must be apart before we switch back (Nebula: 2 s). */
const ROAMING_SUPPRESS_MS = 2000;

/** What a start checks and prepares before anything is opened; `mesh node --test` runs the same. */
export interface PreparedNode {
  identity: LocalIdentity;
  staticHosts: Map<VpnAddr, Endpoint[]>;
  /** pki.revocations, read and verified; null when not set. */
  revocations: RevocationList | null;
}

/**
 * Every check a start runs before it opens a device or socket: the certificate, key and CA, the
 * config against the certificate (Nebula's rules), and the static_host_map names resolved.
 */
export async function prepareNode(config: NodeConfig, now = new Date()): Promise<PreparedNode> {
  // Nodes find a lighthouse at the port in their static_host_map: a random one cannot be it.
  if (config.lighthouse.amLighthouse && config.listen.port === 0) {
    throw new UserError('config: listen.port: must be set (not 0) when lighthouse.am_lighthouse is true');
  }
  const identity = LocalIdentity.fromConfig(config.pki, now);
  validateAgainstCertificate(config, identity);
  const revocations = config.pki.revocations ? readRevocationFile(config.pki.revocations, identity.caPool) : null;
  return { identity, staticHosts: await resolveStaticHosts(config), revocations };
}

/**
 * A running mesh node: one UDP socket, one TUN device, and the tunnels between them. The protocol
 * concepts live in their own files (handshake manager, host map, connection manager, relays,
 * lighthouse client, inside/outside paths); this class assembles them, handing each the few
 * capabilities it uses, and owns the send primitives and the tunnel life cycle they share.
 */
export class MeshNode implements InsideNode, OutsideNode {
  readonly hostmap: HostMap;
  readonly diag: Diagnostics;
  readonly handshakes: HandshakeManager;
  readonly connections: ConnectionManager;
  readonly lighthouseClient: LighthouseClient;
  readonly relays: RelayManager;
  readonly nat: NatDiscovery;
  /** Container subnets of other hosts, found without unsafe_routes (`--docker-bridge`). */
  readonly subnets: SubnetRouter;
  /** Container names across the mesh (`--docker-bridge`). */
  readonly names: NameDirectory;
  /** CA-signed revocation lists: from pki.revocations, or pushed by the hosts that hold one. */
  readonly revocations: Revocations;
  firewall: Firewall;
  private unsafeRoutes: UnsafeRoute[];
  private lighthouse: LighthouseRole | null = null;
  private stunAnswerer: StunAnswerer | null = null;
  private readonly scratchHeader = Buffer.alloc(HEADER_LEN);
  private readonly sealArrays = new AeadBatchArrays();
  private stopped = false;
  /** Resolves when the node cannot go on (its TUN device is gone, its socket unreadable); whoever runs it stops it then. */
  readonly failed: Promise<Error>;
  private fail!: (err: Error) => void;
  private lastSource = { address: '', inOverlay: false };
  private readonly timers: Timers;
  private readonly recvErrorLimiter = new SourceLimiter(RECV_ERRORS_PER_SECOND, RECV_ERRORS_BURST);
  private readonly recvErrorBudget = new GlobalBudget();
  /** `mesh ping` Test requests waiting for their reply, by the hex of their payload. */
  private readonly probes = new Map<string, PendingProbe>();
  /** The native forwarding of established flows, when on (tun.fast_path) and the devices take it. */
  private fast: FastPathLink | null = null;
  private fastLiveness: Timer | null = null;
  private deviceDropsCheck: Timer | null = null;
  /** Datagrams held by `batchSends` while its work runs; null outside one. */
  private outbox: OutgoingDatagram[] | null = null;

  private constructor(
    public config: NodeConfig,
    public identity: LocalIdentity,
    readonly log: Logger,
    readonly udp: UdpBind,
    readonly tun: TunDevice,
    deps: NodeDeps,
  ) {
    this.failed = new Promise((resolve) => (this.fail = resolve));
    const timers = (this.timers = deps.timers ?? systemTimers);
    const diag = (this.diag = new Diagnostics(log, () => timers.now()));
    const hostmap = (this.hostmap = new HostMap(() => new RemoteList(config.preferredRanges)));
    const identityNow = () => this.identity;
    const sendRaw = (data: Uint8Array, to: Endpoint) => this.sendRaw(data, to);
    const sendTo = (vpnIp: VpnAddr, type: number, subtype: number, payload: Uint8Array) => this.sendTo(vpnIp, type, subtype, payload);
    this.connections = new ConnectionManager({
      hostmap,
      diag,
      timers,
      settings: () => ({ ...this.config.timers, disconnectInvalid: this.config.pki.disconnectInvalid }),
      stillValid: (host) => this.stillValid(host),
      sendTest: (host, payload) => this.sendTest(host, payload),
      removeTunnel: (host, notify) => this.removeTunnel(host, notify),
      batchSends: (work) => this.batchSends(work),
    });
    this.handshakes = new HandshakeManager({
      hostmap,
      diag,
      timers,
      aead: deps.aead?.factory ?? createAead,
      identity: identityNow,
      settings: () => ({ cipher: this.config.cipher, ...this.config.handshakes }),
      remoteAllowed: (vpnIp, from) => this.remoteAllowed(vpnIp, from),
      sendRaw,
      reply: (message, to, via) => {
        if (to) this.sendRaw(message, to);
        else if (via) this.relays.sendHandshakeVia(via, message);
      },
      sendTest: (host) => this.sendTest(host),
      tunnelUp: (host) => this.tunnelUp(host),
      addCandidate: (host) => {
        hostmap.addCandidate(host);
        this.connections.expireCandidate(host);
      },
      onStart: (host) => {
        diag.stats.handshakesInitiated++;
        this.lighthouseClient.onHandshakeStart(host);
      },
      onAttempt: (host, message) => {
        this.lighthouseClient.onHandshakeAttempt(host);
        this.relays.onHandshakeAttempt(host, message);
      },
    });
    this.nat = new NatDiscovery({
      diag,
      timers,
      settings: () => ({ interval: this.config.stun.interval, lighthouses: this.config.lighthouse.hosts }),
      staticAddressesOf: (vpnIp) => hostmap.remotesFor(vpnIp).staticAddresses,
      sendRaw,
      activity: () => this.activity(),
    });
    this.lighthouseClient = new LighthouseClient({
      hostmap,
      diag,
      timers,
      identity: identityNow,
      settings: () => this.config,
      listenPort: () => this.listenPort,
      reflexive: () => this.nat.reflexive,
      tunnels: () => hostmap.hosts(),
      sendRaw,
      sendTo,
      remoteAllowed: (vpnIp, addr) => this.remoteAllowed(vpnIp, addr),
      triggerHandshake: (vpnIp) => this.handshakes.triggerNow(vpnIp),
      relayFor: (vpnIp) => this.relays.relayFor(vpnIp),
      probeRtt: (host) => this.connections.probeRtt(host),
      natMapping: () => this.nat.natMapping,
      networkInterfaces: deps.networkInterfaces,
    });
    this.relays = new RelayManager({
      hostmap,
      diag,
      timers,
      identity: identityNow,
      settings: () => ({ relay: this.config.relay, connectionAliveInterval: this.config.timers.connectionAliveInterval }),
      natSymmetric: () => this.nat.symmetric,
      startHandshake: (vpnIp, options) => void this.handshakes.start(vpnIp, options),
      sendOn: (host, type, subtype, payload) => this.sendOn(host, type, subtype, payload),
      transmit: (host, datagram, out) => this.transmit(host, datagram, out),
      heardFrom: (hop, from) => this.heardFrom(hop, from),
      deliver: (inner, hop, toTun) => consumeRelayedPacket(this, inner, hop, toTun),
      removeTunnel: (host, notify) => this.removeTunnel(host, notify),
    });
    const lighthouses = this.lighthouseClient;
    this.subnets = new SubnetRouter({
      diag,
      timers,
      identity: identityNow,
      tunnels: () => hostmap.hosts(),
      askLighthouses: (dst) => lighthouses.sendToLighthouses(MetaType.MeshSubnetQuery, { ...emptyMetaDetails(), vpnIp: dst }),
      takeAddresses: (lighthouse, details) => lighthouses.takeAnswer(lighthouse, details),
      resend: (packets) => consumeTunPackets(this, packets),
    });
    this.names = new NameDirectory({
      log,
      timers,
      vpnIp: () => this.identity.vpnIp,
      interval: () => this.config.lighthouse.interval,
      hasLighthouses: () => lighthouses.hasLighthouses,
      sendToLighthouses: (type, details) => lighthouses.sendToLighthouses(type, details),
      sendToLighthouse: (lighthouse, type, details) => lighthouses.sendToLighthouse(lighthouse, type, details),
    });
    this.revocations = new Revocations({ log, caPool: () => this.identity.caPool });
    lighthouses.onReply(MetaType.MeshSubnetReply, (lighthouse, details) => this.subnets.handleReply(lighthouse, details));
    lighthouses.onReply(MetaType.MeshNameReply, (_lighthouse, details) => this.names.handleReply(details));
    lighthouses.onReply(MetaType.MeshNamesResync, (lighthouse) => this.names.handleResync(lighthouse.vpnIp));
    this.firewall = Firewall.fromConfig(config.firewall, identity.localCidrs());
    this.unsafeRoutes = unsafeRoutesOf(config);
  }

  static async start(config: NodeConfig, log: Logger, deps: NodeDeps = {}): Promise<MeshNode> {
    const { identity, staticHosts, revocations } = await prepareNode(config, deps.now?.() ?? new Date());
    let tun: TunDevice;
    if (config.tun.disabled) {
      tun = new DisabledTun(identity.vpnIp, config.tun.mtu);
    } else {
      if (!deps.openTun) throw new UserError('tun: no TUN implementation available');
      try {
        tun = deps.openTun({
          name: config.tun.dev || undefined,
          mtu: config.tun.mtu,
          address: identity.vpnNetwork,
          // The first IPv4 network is `address`; the others (a v2 certificate's) follow.
          moreAddresses: identity.vpnNetworks.filter((n) => n.family === 6 || Number(n.addr) !== identity.vpnIp),
          routes: kernelRoutesOf(config),
          txQueueLength: config.tun.txQueue,
          offload: config.tun.offload,
          ioUring: config.tun.ioUring,
        });
      } catch (err) {
        // The kernel refused or did not answer (no CAP_NET_ADMIN, netlink timeout...): a clear error, not a crash.
        throw new UserError(`tun: cannot set up the TUN device: ${(err as Error).message}`);
      }
    }
    let udp: UdpBind;
    try {
      if (!deps.bindUdp) throw new UserError('listen: no UDP implementation available');
      udp = await deps.bindUdp({
        host: config.listen.host,
        port: config.listen.port,
        readBuffer: config.listen.readBuffer || LARGE_SOCKET_BUFFER,
        writeBuffer: config.listen.writeBuffer || LARGE_SOCKET_BUFFER,
        batch: config.listen.batch,
        offload: config.listen.offload,
        onOffloadFallback: (reason) => log.warn({ listen: `${config.listen.host}:${config.listen.port}` }, reason),
      });
    } catch (err) {
      tun.close();
      throw err instanceof UserError ? err : new UserError(`listen: cannot bind ${config.listen.host}:${config.listen.port}: ${(err as Error).message}`);
    }
    const node = new MeshNode(config, identity, log, udp, tun, deps);
    if (revocations) node.revocations.hold(revocations, config.pki.revocations);
    node.applyBlocklist();
    for (const [vpnIp, addrs] of staticHosts) node.hostmap.remotesFor(vpnIp).setStatic(addrs);
    if (config.tun.fastPath && deps.fastPath) node.enableFastPath(deps.fastPath());
    udp.onDatagrams((batch) => node.batchSends(() => consumeDatagrams(node, batch)));
    tun.onPackets((packets) => consumeTunPackets(node, packets, tun.headroom ?? 0));
    tun.onError?.((err) => {
      log.error({ tun: tun.name, reason: err.message }, 'the TUN device is gone (deleted?), stopping');
      node.fail(new UserError(`TUN device ${tun.name} is gone (${err.message}); mesh stopped`));
    });
    udp.onError?.((err) => {
      log.error({ reason: err.message }, 'the UDP socket cannot be read any more, stopping');
      node.fail(new UserError(`${err.message}; mesh stopped`));
    });
    node.lighthouseClient.start();
    node.nat.startWhenQuiet();
    node.relays.start();
    node.deviceDropsCheck = watchDeviceDrops(
      node.timers,
      () => ({ kernel: node.kernelDrops(), reasons: deviceDropReasons(udp, tun) }),
      { readBuffer: config.listen.readBuffer || LARGE_SOCKET_BUFFER, writeBuffer: config.listen.writeBuffer || LARGE_SOCKET_BUFFER, txQueue: config.tun.txQueue },
      log,
    );
    log.info(
      { vpnIp: formatVpnAddr(identity.vpnIp), cert: identity.cert.details.name, fingerprint: identity.fingerprint, listen: `${config.listen.host}:${udp.localPort}`, tun: tun.name, tunOffloads: tun.offloads?.join(',') || 'none', ...(tun.readMode ? { tunReads: tun.readMode } : {}), udpOffloads: udp.offloads?.join(',') || 'none', cipher: config.cipher, aead: deps.aead?.name ?? 'node-crypto' },
      'mesh node started',
    );
    node.timers.after(0, () => node.handshakes.rehearse());
    return node;
  }

  /** Attaches the native fast path to the TUN device and socket (both must take it), mirroring the firewall's flows into it. */
  private enableFastPath(tables: NativeFastPath | undefined): void {
    if (!tables || !this.tun.attachFastPath || !this.udp.attachFastPath) return;
    this.fast = new FastPathLink(tables, {
      routesDirectly: (addr) => this.routesDirectly(addr),
      tunnelFor: (addr) => this.hostmap.get(addr),
      isCurrent: (host) => this.hostmap.getByIndex(host.localIndex) === host && this.hostmap.get(host.vpnIp) === host,
      overlayNetworks: () => [this.identity.vpnNetwork],
    });
    tables.setRulesVersion(this.firewall.rulesVersion);
    this.firewall.conntrack.mirror = this.fast;
    // What the fast path sends arms the liveness checks that JS sends arm at once (at most one interval late).
    const fast = this.fast;
    this.fastLiveness = this.timers.every(this.config.timers.connectionAliveInterval, () => this.connections.outboundSeenBy(fast.tunnels()));
    this.tun.attachFastPath(tables);
    this.udp.attachFastPath(tables);
  }

  /** What the fast path forwarded (counters read at scrape time), for tests and `mesh status`. */
  fastPathTotals(): ReturnType<NativeFastPath['totals']> | null {
    return this.fast?.tables.totals() ?? null;
  }

  flowApproved(host: HostInfo): void {
    this.fast?.approved(host, this.firewall);
  }

  /** A packet to `addr` goes to the tunnel of `addr` itself, with no other routing or tun.drop_* filter. */
  private routesDirectly(addr: VpnAddr): boolean {
    if (this.routeFor(addr) !== addr) return false;
    const f = this.insideFilter();
    if (typeof addr === 'number') return addr !== f.self && !(f.dropMulticast && addr >>> 28 === 0xe) && !(f.dropLocalBroadcast && addr === f.broadcast);
    return !f.self6.has(addr) && !(f.dropMulticast && addr >> 120n === 0xffn);
  }

  /** Makes this node a lighthouse: lighthouse messages go to `role`, which follows the tunnels. */
  serveLighthouse(role: LighthouseRole): void {
    this.lighthouse = role;
    for (const host of this.hostmap.hosts()) role.onTunnelUp(host);
  }

  /** STUN Binding requests on the node's socket go to `answer` (lighthouses); without one they are dropped. */
  answerStun(answer: StunAnswerer): void {
    this.stunAnswerer = answer;
  }

  /** What the kernel dropped at the socket and TUN device (src/node/device-drops.ts). */
  kernelDrops(): KernelDrops {
    return readKernelDrops(this.udp, this.tun);
  }

  /** Dropped packets by reason: the node's own counts and its socket's and TUN device's. */
  droppedByReason(): Record<string, number> {
    return { ...this.stats.dropped, ...deviceDropReasons(this.udp, this.tun) };
  }

  /** Datagrams received plus sent so far: a count that stands still while the node is quiet. */
  activity(): number {
    const { rxPackets, txPackets } = this.stats; // one read: it folds in the fast path's counters
    return rxPackets + txPackets;
  }

  get stats(): NodeStats {
    this.fast?.foldInto(this.diag.stats, MessageType.Message, this.firewall);
    return this.diag.stats;
  }

  get cipher(): CipherName {
    return this.config.cipher;
  }

  get listenPort(): number {
    return this.udp.localPort;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Runs `work` with every datagram it sends held back, then sends them in order in one batch: a
   * received batch's answers (a lighthouse's replies and punch notifications, handshake replies) or
   * the liveness tests due at one time then cost one sendmmsg instead of one each. Nested calls join
   * the outer batch.
   */
  batchSends(work: () => void): void {
    if (this.outbox) return work();
    const out: OutgoingDatagram[] = (this.outbox = []);
    try {
      work();
    } finally {
      this.outbox = null;
      // As a send inside `work` would have been: a failure is a counted drop, not an exception out of the socket's handler.
      try {
        if (out.length > 0 && !this.stopped) this.udp.send(out);
      } catch (err) {
        this.diag.drop('exception', null, err);
      }
    }
  }

  private send(out: OutgoingDatagram[]): void {
    if (!this.outbox) return void this.udp.send(out);
    for (const d of out) this.outbox.push(d);
  }

  /** Sends raw bytes (handshakes, punches, STUN) without touching any tunnel state. */
  sendRaw(data: Uint8Array, to: Endpoint): void {
    this.diag.stats.txPackets++;
    this.diag.stats.txBytes += data.length;
    this.send([{ data, to }]);
  }

  sendDatagrams(out: OutgoingDatagram[]): void {
    this.send(out);
  }

  writeToTun(packets: Buffer[]): void {
    this.tun.write(packets);
  }

  /** Encrypts one message for an established tunnel; returns the datagram to send. */
  seal(host: HostInfo, type: number, subtype: number, payload: Uint8Array): Buffer {
    const counter = ++host.messageCounter;
    this.diag.stats.txByType[type]++;
    writeHeader(this.scratchHeader, 0, type, subtype, host.remoteIndex, counter);
    return host.encrypt!.encryptPacket(this.scratchHeader, counter, payload);
  }

  sendInPlace(host: HostInfo, packets: Buffer[], out: OutgoingDatagram[]): void {
    const n = packets.length;
    const bytes = new Uint8Array(packets[0]!.buffer);
    if (!host.remote || packets.some((p) => p.buffer !== bytes.buffer)) {
      for (const p of packets) this.sendOn(host, MessageType.Message, MessageSubType.None, p, out);
      return;
    }
    const { offsets, lengths } = this.sealArrays.reserve(n);
    for (let i = 0; i < n; i++) {
      const packet = packets[i]!;
      const at = packet.byteOffset - HEADER_LEN;
      writeHeader(bytes, at, MessageType.Message, MessageSubType.None, host.remoteIndex, ++host.messageCounter);
      offsets[i] = at;
      lengths[i] = packet.length;
    }
    this.diag.stats.txByType[MessageType.Message] += n;
    host.encrypt!.sealBatch(bytes, offsets, lengths, n);
    for (let i = 0; i < n; i++) this.transmit(host, Buffer.from(bytes.buffer, offsets[i]!, HEADER_LEN + lengths[i]! + TAG_LEN), out);
  }

  /**
   * Sends a message to a peer by overlay IP, starting a handshake and queueing the message when
   * there is no tunnel yet.
   */
  sendTo(vpnIp: VpnAddr, type: number, subtype: number, payload: Uint8Array, out?: OutgoingDatagram[]): void {
    const host = this.hostmap.get(vpnIp);
    if (!host) {
      this.handshakes.start(vpnIp).enqueue(type, subtype, payload);
      return;
    }
    this.sendOn(host, type, subtype, payload, out);
  }

  /** Sends on an established tunnel: to its address, or wrapped in a relay frame when it has none. */
  sendOn(host: HostInfo, type: number, subtype: number, payload: Uint8Array, out?: OutgoingDatagram[]): void {
    const datagram = this.seal(host, type, subtype, payload);
    if (!host.remote) {
      // The hop's frame is counted (and sent) by the relay manager; the tunnel counts what it carried.
      if (this.relays.sendRelayed(host, datagram, out)) this.countSent(host, datagram.length);
      return;
    }
    this.transmit(host, datagram, out);
  }

  /** Traffic sent on a tunnel: its counters, and the liveness check that expects an answer. */
  private countSent(host: HostInfo, bytes: number): void {
    this.connections.outbound(host);
    host.txPackets++;
    host.txBytes += bytes;
  }

  /** A sealed datagram to a tunnel's address, counted as traffic on it (into `out` when given). */
  transmit(host: HostInfo, datagram: Uint8Array, out?: OutgoingDatagram[]): void {
    if (!host.remote) return;
    this.countSent(host, datagram.length);
    this.diag.stats.txPackets++;
    this.diag.stats.txBytes += datagram.length;
    if (out) out.push({ data: datagram, to: host.remote });
    else this.send([{ data: datagram, to: host.remote }]);
  }

  sendTest(host: HostInfo, payload: Uint8Array = Buffer.alloc(0)): void {
    if (host.established) this.sendOn(host, MessageType.Test, MessageSubType.TestRequest, payload);
  }

  /**
   * `mesh ping`: a Test request with a random payload to `vpnIp`, through its tunnel (a handshake
   * first when there is none, like any packet). Resolves with the round trip when the peer echoes
   * it, null after `timeoutMs`.
   */
  probe(vpnIp: VpnAddr, timeoutMs: number): Promise<ProbeResult | null> {
    if (this.stopped) return Promise.resolve(null);
    // 16 bytes: not the 8 of the connection manager's RTT probes, which read theirs as a send time.
    const payload = randomBytes(16);
    const key = payload.toString('hex');
    return new Promise((resolve) => {
      const done = (result: ProbeResult | null) => {
        const probe = this.probes.get(key);
        if (!probe) return;
        this.probes.delete(key);
        probe.timer.cancel();
        resolve(result);
      };
      this.probes.set(key, { vpnIp, sentAt: performance.now(), timer: this.timers.after(timeoutMs, () => done(null)), done });
      this.sendTo(vpnIp, MessageType.Test, MessageSubType.TestRequest, payload);
    });
  }

  /** A Test reply: an RTT probe's or liveness test's (connection manager), or the `mesh ping` that sent its payload. */
  onTestReply(host: HostInfo, payload: Buffer): void {
    this.connections.onTestReply(host, payload);
    const probe = this.probes.get(payload.toString('hex'));
    if (!probe || probe.vpnIp !== host.vpnIp) return;
    const rttMs = performance.now() - probe.sentAt;
    host.lastRttMs = rttMs;
    probe.done({ rttMs, remote: host.remote && { ...host.remote }, relay: host.remote ? null : this.relays.relayFor(host.vpnIp) });
  }

  sendRecvError(to: Endpoint, remoteIndex: number): void {
    const mode = this.config.listen.sendRecvError;
    if (mode === 'never' || (mode === 'private' && !isPrivateAddress(to.address))) return;
    // Not one per forged datagram: a flood of unknown indexes would make us a reflector.
    const now = this.timers.now();
    if (!this.recvErrorLimiter.allow(to.address, now)) return;
    if (!this.recvErrorBudget.allow(now, RECV_ERRORS_TOTAL_PER_SECOND, RECV_ERRORS_TOTAL_BURST)) return;
    const packet = Buffer.alloc(HEADER_LEN);
    writeHeader(packet, 0, MessageType.RecvError, 0, remoteIndex, 0);
    this.diag.stats.recvErrorsSent++;
    this.sendRaw(packet, to);
  }

  startHandshake(vpnIp: VpnAddr): HostInfo {
    return this.handshakes.start(vpnIp);
  }

  /** A handshake completed (or a candidate took over): the tunnel becomes the one to its peer. */
  private tunnelUp(host: HostInfo): void {
    host.establishedAt = Date.now();
    this.diag.stats.handshakesCompleted++;
    const replaced = this.hostmap.add(host);
    if (replaced) this.fast?.removeTunnel(replaced);
    this.fast?.syncTunnel(host);
    if (replaced) {
      this.diag.limited('debug', `replaced ${host.vpnIp}`, { vpnIp: formatVpnAddr(host.vpnIp), oldIndex: replaced.localIndex }, 'tunnel replaced by a newer handshake');
      this.relays.onTunnelGone(replaced);
    }
    this.lighthouse?.onTunnelUp(host);
    this.subnets.onTunnelUp(host);
    this.pushRevocations([host]);
    const queued = host.queue;
    host.queue = [];
    if (queued.length === 0) return;
    const out: OutgoingDatagram[] = [];
    for (const m of queued) {
      if (m.type === MessageType.Message && m.subtype === MessageSubType.None) {
        const reason = this.firewall.outbound(m.payload, host.identity!);
        if (reason) {
          this.diag.firewallDrop('outbound', reason, host.vpnIp);
          continue;
        }
      }
      this.sendOn(host, m.type, m.subtype, m.payload, out);
    }
    if (out.length > 0) this.send(out);
  }

  /** Tears a tunnel down locally; with `notify`, tells the peer with a closeTunnel first. */
  removeTunnel(host: HostInfo, notify: boolean): void {
    if (notify && host.established) this.sendOn(host, MessageType.CloseTunnel, 0, Buffer.alloc(0));
    this.fast?.removeTunnel(host);
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
    this.diag.limited('info', `switching ${host.vpnIp}`, { vpnIp: formatVpnAddr(host.vpnIp), localIndex: host.localIndex, remoteIndex: host.remoteIndex, why }, 'switching to the newer tunnel');
    this.tunnelUp(host);
  }

  heardFrom(host: HostInfo, from: Endpoint | null): void {
    host.heard();
    if (from) this.roam(host, from);
    this.connections.inbound(host);
  }

  /** Switches a tunnel to the address an authenticated packet came from (roaming). */
  private roam(host: HostInfo, from: Endpoint): void {
    if (sameEndpoint(host.remote, from)) return;
    if (!this.remoteAllowed(host.vpnIp, from)) return;
    const now = Date.now();
    const prev = host.previousRemote;
    if (prev && sameEndpoint(prev.addr, from) && now - prev.at < ROAMING_SUPPRESS_MS) return;
    this.diag.limited('info', `roamed ${host.vpnIp}`, { vpnIp: formatVpnAddr(host.vpnIp), from: host.remote && endpointKey(host.remote), to: endpointKey(from) }, 'host roamed to a new address');
    if (host.remote) host.previousRemote = { addr: host.remote, at: now };
    host.remote = { ...from };
    this.fast?.syncTunnel(host);
    host.remotes.learn(from);
    this.lighthouse?.onRoam(host);
  }

  /**
   * `lighthouse.remote_allow_list`, refined per overlay range by `remote_allow_ranges`, applied to
   * an underlay address (handshakes, roaming, lighthouse answers).
   */
  remoteAllowed(vpnIp: VpnAddr, addr: Endpoint): boolean {
    return remoteAllowedBy(this.config, vpnIp, addr);
  }

  /** Lighthouse messages (header type 3) from an established tunnel. */
  onLighthouseMessage(host: HostInfo, payload: Buffer): void {
    let meta;
    try {
      meta = decodeMeta(payload);
    } catch (err) {
      this.diag.drop('lighthouse-malformed', host.remote, err);
      return;
    }
    if (meta.type === MetaType.MeshRevocations) {
      const list = meta.details.meshRevocationList;
      if (list && this.revocations.receive(list, formatVpnAddr(host.vpnIp))) {
        this.applyBlocklist();
        this.pushRevocations([...this.hostmap.hosts()]);
      }
      return;
    }
    if (this.lighthouse) this.lighthouse.handle(host, meta);
    else this.lighthouseClient.handle(host, meta);
  }

  /**
   * pki.blocklist plus every revocation list held becomes the blocklist: handshakes with those
   * certificates are refused from now on, and their tunnels are closed at once.
   */
  private applyBlocklist(): void {
    this.identity = this.identity.withBlocklist([...this.config.pki.blocklist, ...this.revocations.revoked()]);
    const blocked = this.identity.blocklist;
    for (const host of [...this.hostmap.hosts(), ...this.hostmap.candidateHosts()]) {
      if (!host.cert || !blocked.has(certificateFingerprint(host.cert))) continue;
      this.log.info({ vpnIp: formatVpnAddr(host.vpnIp), cert: host.cert.details.name }, 'certificate revoked, closing its tunnel');
      this.removeTunnel(host, true);
    }
  }

  /**
   * A node with pki.revocations hands every list it holds to each host it has a tunnel with (on
   * tunnel up, and to all when a list changes). Nebula nodes ignore the message type.
   */
  private pushRevocations(hosts: readonly HostInfo[]): void {
    if (!this.config.pki.revocations) return;
    for (const encoded of this.revocations.encodedLists()) {
      const payload = encodeMeta(MetaType.MeshRevocations, { ...emptyMetaDetails(), vpnIp: this.identity.vpnIp, meshRevocationList: encoded });
      for (const host of hosts) if (host.established) this.sendOn(host, MessageType.LightHouse, 0, payload);
    }
  }

  /** Control messages (header type 6: relay set-up) from an established tunnel. */
  onControlMessage(host: HostInfo, payload: Buffer): void {
    this.relays.handleControl(host, payload);
  }

  /** A STUN message on the node's socket: requests are answered by lighthouses, responses feed NAT discovery. */
  onStun(data: Buffer, from: Endpoint): void {
    if (this.stunAnswerer && isStunRequest(data)) this.stunAnswerer(data, from);
    else this.nat.handle(data, from);
  }

  /** Re-validates a peer certificate (pki.disconnect_invalid); closes the tunnel when it fails. */
  private stillValid(host: HostInfo): boolean {
    try {
      this.identity.caPool.verify(host.cert!, new Date(), this.identity.blocklist);
      return true;
    } catch (err) {
      this.log.info({ vpnIp: formatVpnAddr(host.vpnIp), reason: (err as Error).message }, 'peer certificate no longer valid, closing tunnel');
      this.removeTunnel(host, true);
      return false;
    }
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

  insideFilter(): InsideFilter {
    const net = this.identity.vpnNetwork;
    const broadcast = (net.ip | ~(0xffffffff << (32 - net.bits))) >>> 0;
    return {
      self: this.identity.vpnIp,
      broadcast,
      self6: this.identity.vpnAddrs6,
      dropMulticast: this.config.tun.dropMulticast,
      dropLocalBroadcast: this.config.tun.dropLocalBroadcast,
    };
  }

  /** Which overlay address a destination is reached through: itself inside our networks, or an unsafe route's `via`. */
  routeFor(dst: VpnAddr): VpnAddr | null {
    if (this.identity.inVpnNetworks(dst)) return dst;
    let best: UnsafeRoute | null = null;
    for (const r of this.unsafeRoutes) if (unsafeRouteContains(r.cidr, dst) && (!best || r.cidr.bits > best.cidr.bits)) best = r;
    if (best) return best.via;
    return typeof dst === 'number' ? this.subnets.ownerOf(dst) : null;
  }

  holdForOwner(dst: VpnAddr, packet: Buffer): boolean {
    return typeof dst === 'number' && this.subnets.hold(dst, packet);
  }

  /**
   * SIGHUP / `mesh reload`: applies everything that can change while running: certificate, key, CA,
   * pki.blocklist and pki.revocations (tunnels to newly refused certificates close at once),
   * firewall, static_host_map, lighthouse.hosts and the lighthouse settings, punchy, relay,
   * tun.routes and tun.unsafe_routes (kernel routes added and removed to match), timers and
   * handshakes. The keys that need a restart keep their running values and are named in one log
   * line. Everything is checked before anything changes: a reload that fails changes nothing.
   */
  async reload(next: NodeConfig): Promise<void> {
    const identity = LocalIdentity.fromConfig(next.pki);
    if (identity.vpnIp !== this.identity.vpnIp) {
      throw new UserError(`pki.cert: the new certificate has overlay IP ${formatVpnAddr(identity.vpnIp)}, the running node has ${formatVpnAddr(this.identity.vpnIp)}; restart to change it`);
    }
    validateAgainstCertificate(next, identity);
    const firewall = this.firewall.withRules(next.firewall, identity.localCidrs());
    const revocationList = next.pki.revocations ? readRevocationFile(next.pki.revocations, identity.caPool) : null;
    const staticHosts = await resolveStaticHosts(next);
    if (this.stopped) return;
    const { config, changed } = keepRestartOnlyKeys(this.config, next);
    if (changed.length > 0) this.log.warn({ keys: changed }, `changed but only applied by a restart: ${changed.join(', ')}; the running values stay`);
    syncKernelRoutes(this.tun, kernelRoutesOf(this.config), kernelRoutesOf(config), this.log);
    // From here on nothing throws.
    this.identity = identity;
    this.firewall = firewall;
    this.config = config;
    this.unsafeRoutes = unsafeRoutesOf(config);
    this.fast?.resync(firewall, this.hostmap.hosts());
    for (const [vpnIp, addrs] of staticHosts) this.hostmap.remotesFor(vpnIp).setStatic(addrs);
    for (const vpnIp of this.hostmap.staticHostIps()) if (!staticHosts.has(vpnIp)) this.hostmap.remotesFor(vpnIp).setStatic([]);
    this.revocations.reverify();
    const newList = revocationList !== null && this.revocations.hold(revocationList, next.pki.revocations);
    this.applyBlocklist();
    if (newList) this.pushRevocations([...this.hostmap.hosts()]);
    void this.nat.refresh();
    this.lighthouseClient.reload();
    this.log.info({ fingerprint: identity.fingerprint }, 'configuration reloaded');
  }

  /** SIGTERM: closes every tunnel (telling each peer), removes the TUN device and the socket. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.deviceDropsCheck?.cancel();
    for (const probe of [...this.probes.values()]) probe.done(null);
    this.handshakes.stopAll();
    this.lighthouseClient.stop();
    this.nat.stop();
    this.subnets.stop();
    this.names.stop();
    for (const candidate of [...this.hostmap.candidateHosts()]) this.hostmap.removeCandidate(candidate);
    // Stopped inside batchSends (which then sends nothing more): what it held goes first.
    const out: OutgoingDatagram[] = this.outbox?.splice(0) ?? [];
    // Relayed tunnels first: their closeTunnel must pass the relay before the hop tunnel closes.
    const hosts = [...this.hostmap.hosts()].sort((a, b) => Number(a.remote !== null) - Number(b.remote !== null));
    for (const host of hosts) {
      if (host.established) this.sendOn(host, MessageType.CloseTunnel, 0, Buffer.alloc(0), out);
      this.hostmap.remove(host);
    }
    if (out.length > 0) this.udp.send(out);
    if (this.fast) {
      this.fastLiveness?.cancel();
      this.tun.attachFastPath?.(null);
      this.udp.attachFastPath?.(null);
      this.fast.clear();
      this.firewall.conntrack.mirror = null;
    }
    this.relays.stop();
    this.tun.close();
    await this.udp.close();
    this.log.info('mesh node stopped');
  }
}

/** Whether an unsafe route's network (IPv4 Cidr or IPv6 prefix) holds `dst`. */
function unsafeRouteContains(c: Cidr | IpPrefix, dst: VpnAddr): boolean {
  if ('family' in c) return ipPrefixContains(c, dst);
  return typeof dst === 'number' && cidrContains(c, dst);
}

function unsafeRoutesOf(config: NodeConfig): UnsafeRoute[] {
  return config.tun.unsafeRoutes.map((r) => ({ cidr: r.route, via: r.via }));
}

/** Nebula's RemoteAllowList.Allow: the most specific `remote_allow_ranges` entry and the main list must both allow. */
function remoteAllowedBy(config: NodeConfig, vpnIp: VpnAddr, addr: Endpoint): boolean {
  const { remoteAllowList, remoteAllowRanges } = config.lighthouse;
  let inside: (typeof remoteAllowRanges)[number] | null = null;
  for (const range of remoteAllowRanges) {
    if (typeof vpnIp === 'number' && cidrContains(range.inside, vpnIp) && (!inside || range.inside.bits > inside.inside.bits)) inside = range;
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
    if (!identity.inVpnNetworks(lh)) throw new UserError(`lighthouse.hosts: ${formatVpnAddr(lh)} is not inside the overlay network ${formatCidr({ ip: net.ip, bits: net.bits })}`);
  }
  for (const vpnIp of config.staticHostMap.keys()) {
    if (!identity.inVpnNetworks(vpnIp)) throw new UserError(`static_host_map: ${formatVpnAddr(vpnIp)} is not inside the overlay network ${formatCidr(net)}`);
  }
  for (const r of config.tun.routes) {
    if (!cidrsOverlap(r.route, net) || r.route.bits < net.bits) throw new UserError(`tun.routes: ${formatCidr(r.route)} is not inside the overlay network ${formatCidr(net)}`);
  }
  for (const r of config.tun.unsafeRoutes) {
    const route = r.route;
    const text = 'family' in route ? formatIpPrefix(route) : formatCidr(route);
    const overlaps = 'family' in route ? identity.vpnNetworks.some((n) => n.family === 6 && ipPrefixContains(route, vpnAddrOf(n))) : cidrsOverlap(route, net);
    const within = 'family' in route ? 'the overlay networks' : `the overlay network ${formatCidr(net)}`;
    if (overlaps) throw new UserError(`tun.unsafe_routes: ${text} overlaps ${within}`);
    if (!identity.inVpnNetworks(r.via)) throw new UserError(`tun.unsafe_routes: via ${formatVpnAddr(r.via)} is not inside ${within}`);
  }
}

async function resolveStaticHosts(config: NodeConfig): Promise<Map<VpnAddr, Endpoint[]>> {
  const result = new Map<VpnAddr, Endpoint[]>();
  for (const [vpnIp, entries] of config.staticHostMap) {
    const addrs: Endpoint[] = [];
    for (const entry of entries) {
      try {
        const resolved = await lookup(entry.host, { all: true });
        for (const r of resolved) addrs.push({ address: r.address, port: entry.port });
      } catch (err) {
        throw new UserError(`static_host_map: cannot resolve "${entry.host}" for ${formatVpnAddr(vpnIp)}: ${(err as Error).message}`);
      }
    }
    result.set(vpnIp, addrs);
  }
  return result;
}
