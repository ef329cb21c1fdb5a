import type { Endpoint } from '../src/io/udp.js';
import type { HostInfo } from '../src/node/hostmap.js';
import type { MeshNode } from '../src/node/node.js';
import type { MetaMessage } from '../src/protocol/messages.js';

/**
 * The lighthouse's address book (Nebula 1.6 §5), hosted by a node with `lighthouse.am_lighthouse`.
 * Soft state only: rebuilt from HostUpdateNotifications after a restart.
 */
export class LighthouseServer {
  constructor(readonly node: MeshNode) {}

  /** A NebulaMeta from an established tunnel (already decrypted and decoded). */
  handle(_host: HostInfo, _meta: MetaMessage): void {}

  /** A tunnel came up: its UDP source is the host's learned address. */
  onTunnelUp(_host: HostInfo): void {}

  /** An established host moved to a new underlay address. */
  onRoam(_host: HostInfo, _from: Endpoint): void {}

  /** A tunnel is gone (closeTunnel, recv_error, dead): forget the host, as Nebula does. */
  onTunnelGone(_host: HostInfo): void {}

  stop(): void {}
}
