/**
 * The composition root's assembly: a MeshNode on the I/O it is given, with the lighthouse plugged
 * in when the config says so. `mesh node`, `mesh lighthouse`, the in-memory tests and the lab all
 * start nodes through here, so they run the same wiring.
 */
import type { Logger } from 'pino';
import type { Lighthouse } from '../../lighthouse/attach.js';
import type { DockerHost } from '../docker/integration.js';
import type { NodeConfig } from '../node/config.js';
import { MeshNode, type NodeDeps } from '../node/node.js';
import { ipv4Cidrs } from '../net/ip.js';

export interface Mesh {
  readonly node: MeshNode;
  /** The address book, STUN and DNS, when lighthouse.am_lighthouse is set. */
  readonly lighthouse: Lighthouse | null;
  stop(): Promise<void>;
}

export async function startMesh(config: NodeConfig, log: Logger, deps: NodeDeps): Promise<Mesh> {
  const node = await MeshNode.start(config, log, deps);
  let lighthouse: Lighthouse | null = null;
  if (config.lighthouse.amLighthouse) {
    try {
      // Loaded only on lighthouses: the book, STUN and DNS are not every node's modules.
      const { attachLighthouse } = await import('../../lighthouse/attach.js');
      lighthouse = await attachLighthouse(node, deps.bindUdp);
    } catch (err) {
      await node.stop();
      throw err;
    }
  }
  return {
    node,
    lighthouse,
    async stop() {
      await lighthouse?.stop();
      await node.stop();
    },
  };
}

/** The node as the Docker shim sees it. */
export function dockerHostOf(node: MeshNode): DockerHost {
  const cert = node.identity.cert;
  return {
    tun: node.config.tun.disabled ? null : node.tun,
    certSubnets: ipv4Cidrs(cert.details.unsafeNetworks),
    caSubnets: ipv4Cidrs(node.identity.caPool.get(cert.details.issuer)?.details.unsafeNetworks ?? []),
    routeContainerRanges: (ranges) => node.subnets.setRanges(ranges),
    names: node.names,
  };
}
