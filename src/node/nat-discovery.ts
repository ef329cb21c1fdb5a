import type { Endpoint } from '../io/udp.js';
import type { MeshNode } from './node.js';

/** STUN towards the lighthouses: the node's reflexive address, and whether its NAT is symmetric. */
export class NatDiscovery {
  constructor(readonly node: MeshNode) {}

  /** Our address as the lighthouses see it (STUN XOR-MAPPED-ADDRESS), once known. */
  get reflexive(): Endpoint | null {
    return null;
  }

  /** True once two STUN servers saw different mappings: punching cannot work, use a relay at once. */
  get symmetric(): boolean {
    return false;
  }

  start(): void {}

  stop(): void {}

  /** A STUN message arrived on the node's UDP socket. */
  handle(_data: Buffer, _from: Endpoint): void {}
}
