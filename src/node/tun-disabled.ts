import type { TunDevice, TunRoute } from '../io/tun.js';
import { internetChecksum } from '../net/checksum.js';

const ICMP = 1;
const ECHO_REQUEST = 8;
const ECHO_REPLY = 0;

/**
 * Stands in for the TUN device when `tun.disabled` is set, as Nebula's does: no kernel device and
 * no root needed. Packets the node would deliver are discarded, except ICMP echo requests to our own
 * overlay IP, which are answered as if the kernel had replied (lighthouses and tests rely on it).
 */
export class DisabledTun implements TunDevice {
  readonly name = 'disabled';
  private handler: ((packets: Buffer[]) => void) | null = null;
  discarded = 0;

  constructor(
    private readonly ownIp: number,
    readonly mtu = 1300,
  ) {}

  onPackets(handler: (packets: Buffer[]) => void): void {
    this.handler = handler;
  }

  write(packets: readonly Uint8Array[]): void {
    const replies: Buffer[] = [];
    for (const packet of packets) {
      const reply = this.echoReply(packet);
      if (reply) replies.push(reply);
      else this.discarded++;
    }
    if (replies.length > 0) setImmediate(() => this.handler?.(replies));
  }

  private echoReply(p: Uint8Array): Buffer | null {
    if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== ICMP) return null;
    const ihl = (p[0]! & 0x0f) * 4;
    const totalLength = (p[2]! << 8) | p[3]!;
    if (ihl < 20 || totalLength > p.length || totalLength < ihl + 8) return null;
    if (((p[6]! & 0x3f) | p[7]!) !== 0) return null; // fragments are not answered
    const dst = ((p[16]! << 24) | (p[17]! << 16) | (p[18]! << 8) | p[19]!) >>> 0;
    if (dst !== this.ownIp || p[ihl] !== ECHO_REQUEST) return null;
    const reply = Buffer.from(p.subarray(0, totalLength));
    reply.copy(reply, 16, 12, 16); // destination := source
    reply.writeUInt32BE(this.ownIp, 12); // source := us
    reply[8] = 64;
    reply.writeUInt16BE(0, 10);
    reply.writeUInt16BE(internetChecksum(reply, 0, ihl), 10);
    reply[ihl] = ECHO_REPLY;
    reply.writeUInt16BE(0, ihl + 2);
    reply.writeUInt16BE(internetChecksum(reply, ihl, totalLength), ihl + 2);
    return reply;
  }

  addRoute(_route: TunRoute): void {}

  removeRoute(_route: TunRoute): void {}

  close(): void {
    this.handler = null;
  }
}
