import type { Datagram, Endpoint } from '../io/udp.js';
import type { Header } from '../protocol/header.js';
import type { HostInfo } from './hostmap.js';
import type { MeshNode } from './node.js';

/** Relays (Nebula 1.6 §6): CreateRelayRequest/Response control messages and relay frames. */
export class RelayManager {
  constructor(readonly node: MeshNode) {}

  /** A NebulaControl message (header type 6) from an established tunnel. */
  handleControl(_host: HostInfo, _payload: Buffer): void {}

  /** A relay frame (type 1, subtype 1) from the socket. */
  receiveFrame(_data: Buffer, _header: Header, _from: Endpoint, _toTun: Buffer[]): void {}

  /** Every handshake attempt: ask relays for a path when the peer advertises some. */
  onHandshakeAttempt(_host: HostInfo, _message: Buffer): void {}

  /** A tunnel is gone: tear down every relay using it as a hop. */
  onTunnelGone(_host: HostInfo): void {}

  stop(): void {}
}

export type { Datagram };
