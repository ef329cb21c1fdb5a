import type { HostInfo } from './hostmap.js';
import type { MeshNode } from './node.js';
import type { MetaMessage } from '../protocol/messages.js';

/**
 * A node's side of the lighthouse protocol (Nebula 1.6 §5): registration updates, host queries,
 * query replies into the remote lists, and punch notifications.
 */
export class LighthouseClient {
  constructor(readonly node: MeshNode) {}

  start(): void {}

  stop(): void {}

  /** A NebulaMeta from an established tunnel (already decrypted and decoded). */
  handle(_host: HostInfo, _meta: MetaMessage): void {}

  onHandshakeStart(_host: HostInfo): void {}

  onHandshakeAttempt(_host: HostInfo): void {}

  onTunnelUp(_host: HostInfo): void {}
}
