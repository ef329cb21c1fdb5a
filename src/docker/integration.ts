/**
 * `mesh node --docker-bridge NAME` put together: the container subnet from the certificate, the
 * Docker network and rules (DockerBridgeShim), the CA's subnet ranges routed into the TUN with
 * owners found through the lighthouses (SubnetRouter), and container and service names
 * (services.ts) published to the mesh and served to the containers (NameDirectory, ContainerDns).
 */
import type { Logger } from 'pino';
import { UserError } from '../errors.js';
import { formatCidr, type Cidr } from '../net/ipv4.js';
import type { NameDirectory } from '../node/name-directory.js';
import { ContainerDns } from './dns.js';
import { dockerSocketPath, HttpDockerEngine } from './engine.js';
import { systemIptables } from './iptables.js';
import { bridgeNameFor, chooseContainerSubnet, DockerBridgeShim, gatewayOf, hostNetworks, ShimError } from './shim.js';
import { DockerError } from './engine.js';

export interface DockerBridgeOptions {
  network: string;
  subnet?: string;
  force: boolean;
}

export interface DockerBridge {
  stop(): Promise<void>;
}

/** What the shim needs from the node it runs beside; the composition root wires a MeshNode in. */
export interface DockerHost {
  /** The node's TUN device; null with tun.disabled. */
  readonly tun: { readonly name: string; readonly mtu: number; addRoute(route: { cidr: Cidr }): void } | null;
  /** The container subnets signed into our certificate. */
  readonly certSubnets: readonly Cidr[];
  /** The subnets our CA allows: the ranges container subnets come from. */
  readonly caSubnets: readonly Cidr[];
  /** Routes these ranges to the hosts whose certificates carry them (the node's SubnetRouter). */
  routeContainerRanges(ranges: readonly Cidr[]): void;
  readonly names: Pick<NameDirectory, 'publish' | 'resolve'>;
}

export async function startDockerBridge(node: DockerHost, log: Logger, options: DockerBridgeOptions): Promise<DockerBridge> {
  const tun = node.tun;
  if (!tun) throw new UserError('--docker-bridge needs the TUN device: remove tun.disabled from the config');
  const caSubnets = node.caSubnets;
  if (caSubnets.length === 0) {
    throw new UserError('--docker-bridge: the CA has no subnets, so there is no range to route containers through; create the CA with `mesh ca init ... --subnets 10.200.0.0/16` (or route single hosts with tun.unsafe_routes)');
  }
  let socket: string;
  let subnet;
  try {
    socket = dockerSocketPath();
    subnet = chooseContainerSubnet(node.certSubnets, caSubnets, options.subnet, hostNetworks(bridgeNameFor(options.network)));
  } catch (err) {
    if (err instanceof ShimError || err instanceof DockerError) throw new UserError(`--docker-bridge: ${err.message}`);
    throw err;
  }
  for (const range of caSubnets) tun.addRoute({ cidr: range });
  node.routeContainerRanges(caSubnets);

  let local = new Map<string, number[]>();
  let dns: ContainerDns | null = null;
  const gateway = gatewayOf(subnet);
  const startDns = async () => {
    if (dns) return;
    try {
      dns = await ContainerDns.start({
        address: gateway,
        port: 53,
        zone: options.network,
        log,
        names: { local: (name) => local.get(name) ?? [], remote: (name) => node.names.resolve(name) },
      });
    } catch (err) {
      log.warn({ address: `${gateway}:53`, reason: (err as Error).message }, 'docker: cannot serve container names yet');
    }
  };
  const shim = new DockerBridgeShim(new HttpDockerEngine(socket), systemIptables, {
    network: options.network,
    subnet,
    mtu: tun.mtu,
    tun: tun.name,
    force: options.force,
    onNames: (names) => {
      local = names;
      node.names.publish([...names].map(([name, ips]) => ({ name, ips })));
      void startDns();
    },
  }, log);
  try {
    await shim.start();
  } catch (err) {
    if (err instanceof ShimError || err instanceof DockerError) throw new UserError(`--docker-bridge: ${err.message}`);
    throw err;
  }
  log.info({ network: options.network, subnet: formatCidr(subnet), routed: caSubnets.map(formatCidr), dns: `${gateway}:53` }, 'docker: bridge shim running');
  return {
    async stop() {
      await dns?.stop();
      await shim.stop();
    },
  };
}
