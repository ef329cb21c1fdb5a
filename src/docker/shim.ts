/**
 * `mesh node --docker-bridge NAME`: makes sure the host's Docker has a bridge network NAME on the
 * container subnet signed into the host's certificate, keeps the two iptables rules that let mesh
 * traffic in and out un-masqueraded, and follows dockerd through restarts. The network and its
 * containers belong to the user and stay when the node stops; the rules go.
 */
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { cidrsOverlap, formatCidr, formatIp, networkOf, parseCidr, type Cidr } from '../net/ipv4.js';
import { DockerError, DockerUnavailableError, type DockerEngine, type NetworkCreateRequest, type NetworkInfo } from './engine.js';
import { applyRules, commentFor, removeTagged, shimRules, type IptablesRunner } from './iptables.js';
import { ServiceNames } from './services.js';

export const MANAGED_LABEL = 'io.mesh.docker-bridge';

export interface ShimOptions {
  network: string;
  subnet: Cidr;
  mtu: number;
  tun: string;
  /** Replace an existing network of that name on another subnet (only when no container uses it). */
  force: boolean;
  /**
   * Told the names the containers on the network answer to (name → their IPv4 addresses: container
   * names, network aliases, Compose services) whenever they may have changed.
   */
  onNames?: (names: Map<string, number[]>) => void;
}

export class ShimError extends Error {}

/** Linux interface names have at most 15 characters. */
export function bridgeNameFor(network: string): string {
  return `mesh-${network}`.slice(0, 15);
}

export function gatewayOf(subnet: Cidr): string {
  return formatIp((networkOf(subnet) + 1) >>> 0);
}

export function networkCreateRequest(options: ShimOptions): NetworkCreateRequest {
  const subnet = formatCidr({ ip: networkOf(options.subnet), bits: options.subnet.bits });
  return {
    Name: options.network,
    Driver: 'bridge',
    CheckDuplicate: true,
    IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: gatewayOf(options.subnet) }] },
    Options: {
      'com.docker.network.bridge.name': bridgeNameFor(options.network),
      'com.docker.network.driver.mtu': String(options.mtu),
      // Docker >= 28 drops routed traffic to containers unless the gateway mode allows it; older
      // engines store the option and ignore it.
      'com.docker.network.bridge.gateway_mode_ipv4': 'nat-unprotected',
    },
    Labels: { [MANAGED_LABEL]: 'true' },
  };
}

/** The bridge interface Docker uses for a network: the pinned name, or its default br-<id>. */
export function bridgeOf(info: NetworkInfo): string {
  return info.Options?.['com.docker.network.bridge.name'] || `br-${info.Id.slice(0, 12)}`;
}

function subnetsOf(info: NetworkInfo): string[] {
  return (info.IPAM.Config ?? []).map((c) => c.Subnet ?? '').filter(Boolean);
}

/**
 * Picks the container subnet from the certificate's subnets (v1 subnets, v2 IPv4 unsafe networks:
 * the first, or the one asked for) and checks it against the CA's subnets and the host's own
 * addresses. The result is the network address (v2 keeps unsafe networks as written).
 */
export function chooseContainerSubnet(certSubnets: readonly Cidr[], caSubnets: readonly Cidr[], wanted: string | undefined, localAddrs: readonly Cidr[]): Cidr {
  if (certSubnets.length === 0) {
    throw new ShimError('the host certificate carries no subnets: sign it with `mesh ca sign ... --subnets auto` (v2: --unsafe-networks auto; or an explicit CIDR) to give this host a container subnet');
  }
  let subnet = certSubnets[0]!;
  if (wanted !== undefined) {
    let asked: Cidr;
    try {
      asked = parseCidr(wanted);
    } catch (err) {
      throw new ShimError(`--docker-subnet: ${(err as Error).message}`);
    }
    const found = certSubnets.find((s) => networkOf(s) === networkOf(asked) && s.bits === asked.bits);
    if (!found) throw new ShimError(`--docker-subnet ${wanted} is not among the certificate's subnets (${certSubnets.map(formatCidr).join(', ')})`);
    subnet = found;
  }
  if (subnet.bits > 30) throw new ShimError(`container subnet ${formatCidr(subnet)} is too small for a Docker network (at most /30)`);
  if (caSubnets.length > 0 && !caSubnets.some((c) => c.bits <= subnet.bits && networkOf({ ip: subnet.ip, bits: c.bits }) === networkOf(c))) {
    throw new ShimError(`container subnet ${formatCidr(subnet)} lies outside the CA's subnets (${caSubnets.map(formatCidr).join(', ')}); re-sign the host certificate`);
  }
  const clash = localAddrs.find((a) => cidrsOverlap(a, subnet));
  if (clash) {
    throw new ShimError(`container subnet ${formatCidr(subnet)} overlaps this host's own network ${formatCidr({ ip: networkOf(clash), bits: clash.bits })}; sign the host another subnet (mesh ca sign --subnets ...)`);
  }
  return { ip: networkOf(subnet), bits: subnet.bits };
}

/** IPv4 networks of the host's interfaces, except the given bridge (which carries the subnet itself). */
export function hostNetworks(exceptInterface: string): Cidr[] {
  const out: Cidr[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name === exceptInterface || name === 'lo') continue;
    for (const a of addrs ?? []) if (a.family === 'IPv4' && a.cidr) out.push(parseCidr(a.cidr));
  }
  return out;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;
/** Events within this time are handled together (a `docker compose up` starts many containers at once). */
const EVENT_SETTLE_MS = 100;

/** The Docker events that can change the network, the rules or the names. */
const FOLLOWED_EVENTS = {
  type: ['network', 'daemon', 'container'],
  event: ['destroy', 'create', 'reload', 'connect', 'disconnect', 'start', 'stop', 'die', 'rename', 'health_status'],
};

export class DockerBridgeShim {
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private bridge: string | null = null;
  private readonly tag: string;
  private readonly names: ServiceNames;
  /** A re-read is due: null, 'names' (a container changed) or 'network' (re-assert network and rules too). */
  private due: 'names' | 'network' | null = null;
  private settling: Promise<void> | null = null;
  /** Resolves once the network and rules are in place the first time. */
  readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(
    private readonly engine: DockerEngine,
    private readonly iptables: IptablesRunner,
    private readonly options: ShimOptions,
    private readonly log: Logger,
  ) {
    this.tag = commentFor(bridgeNameFor(options.network));
    this.names = new ServiceNames(engine, options.network);
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  /**
   * Checks the network once (a conflict is an error for the caller), then keeps following dockerd
   * in the background: waits while it is down, re-asserts network and rules when it comes back or
   * when the network is removed.
   */
  async start(): Promise<void> {
    try {
      await this.converge();
      this.markReady();
    } catch (err) {
      if (!(err instanceof DockerUnavailableError)) throw err;
      this.log.warn({ socket: this.engine.socketPath, reason: err.message }, 'docker: waiting for dockerd');
    }
    this.running = this.follow();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => {});
    await this.settling;
    const removed = await removeTagged(this.iptables, this.tag);
    this.log.info({ network: this.options.network, rulesRemoved: removed }, 'docker: removed the shim\'s iptables rules (the network and its containers stay)');
  }

  /** The bridge interface once known. */
  get bridgeName(): string | null {
    return this.bridge;
  }

  private async follow(): Promise<void> {
    let delay = RETRY_MIN_MS;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        await this.converge();
        this.markReady();
        delay = RETRY_MIN_MS;
        await this.engine.events(
          FOLLOWED_EVENTS,
          (event) => {
            const attributes = event.Actor?.Attributes ?? {};
            if (event.Type === 'container') {
              if (event.Actor?.ID) this.names.forget(event.Actor.ID);
              return this.schedule('names');
            }
            if (event.Type === 'network' && attributes.name !== this.options.network) return;
            if (attributes.container) this.names.forget(attributes.container);
            this.schedule('network');
          },
          signal,
        );
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof DockerUnavailableError) this.log.warn({ reason: err.message }, 'docker: dockerd is gone, waiting for it');
        else this.log.error({ reason: (err as Error).message }, 'docker: error, retrying');
        await sleep(delay, signal);
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
  }

  /** Handles the events of the next EVENT_SETTLE_MS together, one re-read at a time. */
  private schedule(what: 'names' | 'network'): void {
    if (this.due !== 'network') this.due = what;
    if (this.settling) return;
    this.settling = (async () => {
      while (this.due && !this.abort.signal.aborted) {
        await sleep(EVENT_SETTLE_MS, this.abort.signal);
        const due = this.due;
        this.due = null;
        try {
          if (due === 'network') await this.converge();
          else await this.publishNames(await this.engine.inspectNetwork(this.options.network));
        } catch (err) {
          this.log.warn({ reason: (err as Error).message }, 'docker: could not re-read the network');
        }
      }
      this.settling = null;
    })();
  }

  private async publishNames(info: NetworkInfo | null): Promise<void> {
    if (!info || !this.options.onNames) return;
    this.options.onNames(await this.names.tableOf(info));
  }

  /** Network present on the right subnet, rules in place, names told. Idempotent. */
  private async converge(): Promise<void> {
    const info = await this.ensureNetwork();
    this.bridge = bridgeOf(info);
    const rules = shimRules({ tun: this.options.tun, bridge: this.bridge, subnet: formatCidr({ ip: networkOf(this.options.subnet), bits: this.options.subnet.bits }) });
    const { added, removed } = await applyRules(this.iptables, rules, this.tag);
    if (added > 0 || removed > 0) this.log.info({ bridge: this.bridge, added, removed }, 'docker: iptables rules in place');
    await this.publishNames(info);
  }

  private async ensureNetwork(): Promise<NetworkInfo> {
    const { network, subnet, force } = this.options;
    const want = formatCidr({ ip: networkOf(subnet), bits: subnet.bits });
    let info = await this.engine.inspectNetwork(network);
    if (info && !subnetsOf(info).includes(want)) {
      const attached = Object.keys(info.Containers ?? {}).length;
      if (!force) {
        throw new ShimError(`docker network "${network}" exists on ${subnetsOf(info).join(', ') || 'no subnet'}, but this host's certificate gives it ${want}; remove it (docker network rm ${network}) or start with --force to replace it`);
      }
      if (attached > 0) throw new ShimError(`docker network "${network}" is on ${subnetsOf(info).join(', ')} and ${attached} container(s) use it; --force only replaces an unused network`);
      this.log.warn({ network, was: subnetsOf(info), now: want }, 'docker: replacing the network (--force)');
      await this.engine.removeNetwork(info.Id);
      info = null;
    }
    if (!info) {
      try {
        await this.engine.createNetwork(networkCreateRequest(this.options));
      } catch (err) {
        if (!(err instanceof DockerError) || err.status !== 409) throw err;
      }
      info = await this.engine.inspectNetwork(network);
      if (!info) throw new ShimError(`docker network "${network}" vanished right after it was created`);
      this.log.info({ network, subnet: want, bridge: bridgeOf(info), mtu: this.options.mtu }, 'docker: network created');
    }
    return info;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
