/**
 * TUN device interface and its native Linux implementation (native/src/tun.cc).
 *
 * Data path: the device fd is non-blocking and polled in the libuv loop (no threads). Each time it
 * becomes readable the addon reads packets until EAGAIN or the batch limit (default 64) and calls
 * the onPackets handler once with all of them. write() writes each packet synchronously; when the
 * kernel queue is full (EAGAIN) the packet is dropped and counted in stats().txDropped.
 *
 * Buffer ownership: the Buffers handed to onPackets are never reused by the device; the handler
 * owns them and may keep them. The packets of one batch are views into one shared ArrayBuffer
 * (packet.buffer), so keeping one packet keeps the whole batch's memory (at most batch x MTU)
 * alive; copy (Buffer.from(packet)) a packet you keep for long. write() does not retain the
 * arrays passed to it: they may be reused as soon as it returns. Each packet has `headroom` free
 * bytes of the batch before and after it (TUN_HEADROOM for the native device), also owned by the
 * handler: the tunnel header and tag go there when the packet is sealed in place.
 *
 * Offloads (TunOptions.offload, on by default): the kernel hands over TCP/UDP super-packets of up
 * to 64 KiB, which the addon splits to the MTU (native/src/offload.cc), and write() hands runs of
 * one TCP flow (and, where the kernel has USO, of one UDP flow) back as one super-packet; either
 * way the handler and write() see ordinary packets.
 */
import { formatIpPrefix, ip6Bytes, type IpNetwork, type IpPrefix } from '../net/ip.js';
import type { Cidr } from '../net/ipv4.js';
import { formatCidr } from '../net/ipv4.js';
import { readDeviceDrops } from './kernel-counters.js';
import { loadNative, splitBatch, type NativeFastPath, type NativeTun, type NativeTunStats } from './native.js';

export interface TunRoute {
  /** An IPv4 Cidr, or an IPv6 prefix (family 6). */
  cidr: Cidr | IpPrefix;
  /** Per-route MTU (route metric "mtu"), for unsafe routes that need a smaller MTU. */
  mtu?: number;
  /** Route priority ("metric" in `ip route`). */
  metric?: number;
}

export interface TunOptions {
  /** Interface name (max 15 chars). A pattern such as "mesh%d" or undefined lets the kernel pick. */
  name?: string;
  mtu: number;
  address: Cidr;
  /** More addresses with their prefix lengths: a v2 certificate's other networks, IPv4 and IPv6. */
  moreAddresses?: readonly IpNetwork[];
  routes?: TunRoute[];
  txQueueLength?: number;
  /** Max packets per read batch (default 64). */
  batch?: number;
  /**
   * Kernel offloads (default true): IFF_VNET_HDR with checksum, TSO and USO where the kernel has
   * them; reads are split into MTU-sized packets and TCP runs written as super-packets natively.
   */
  offload?: boolean;
  /** Read queued packets in io_uring batches where the kernel allows it (default true; else one read(2) per packet). */
  ioUring?: boolean;
}

/** Free bytes before and after each packet the native device delivers: a tunnel header or tag fits. */
export const TUN_HEADROOM = 16;

export interface TunDevice {
  readonly name: string;
  readonly mtu: number;
  /** Free bytes of the batch before and after each packet handed to onPackets; absent: none. */
  readonly headroom?: number;
  /** Kernel offloads in use (see NativeTun.offloads); absent or [] when none. */
  readonly offloads?: readonly string[];
  /** How the native device reads (see NativeTun.readMode); absent for others. */
  readonly readMode?: string;
  /** One call per batch read from the kernel. Setting a handler starts reading; a later call replaces it. */
  onPackets(handler: (packets: Buffer[]) => void): void;
  /** A device that can fail for good (the kernel's, deleted with `ip link del`) reports it here once. */
  onError?(handler: (err: Error) => void): void;
  write(packets: readonly Uint8Array[]): void;
  /** The native device only: packets read go through the fast path first (null: detach). */
  attachFastPath?(fastPath: NativeFastPath | null): void;
  /**
   * The kernel's drops on this device (its /proc/net/dev line): `queue`, packets for the reader
   * that found its queue (tun.tx_queue) full; `write`, packets written that the kernel refused.
   * Throws when the device is gone.
   */
  kernelDrops?(): { queue: number; write: number };
  /**
   * What this device dropped itself: writes refused for a full queue, writes that failed otherwise,
   * and reads the kernel handed over malformed (a bad virtio_net_hdr or lengths).
   */
  drops?(): { writeFull: number; writeErrors: number; readMalformed: number };
  addRoute(route: TunRoute): void;
  removeRoute(route: TunRoute): void;
  close(): void;
}

/** The native device; extra members beyond TunDevice are Linux specific. */
export class NativeTunDevice implements TunDevice {
  readonly name: string;
  readonly mtu: number;
  readonly headroom = TUN_HEADROOM;
  private handler: ((packets: Buffer[]) => void) | undefined;
  private errorHandler: ((err: Error) => void) | undefined;
  private started = false;
  private closed = false;

  constructor(
    private readonly dev: NativeTun,
    mtu: number,
    private readonly batch: number,
  ) {
    this.name = dev.name;
    this.mtu = mtu;
  }

  get offloads(): readonly string[] {
    return this.dev.offloads;
  }

  get readMode(): string {
    return this.dev.readMode;
  }

  onPackets(handler: (packets: Buffer[]) => void): void {
    this.handler = handler;
    if (this.started || this.closed) return;
    this.started = true;
    this.dev.start((batch, count, error) => {
      if (error) {
        if (this.errorHandler) this.errorHandler(error);
        else throw error;
        return;
      }
      if (batch && count > 0) this.handler?.(splitBatch(batch, count, 1, 0, TUN_HEADROOM).views);
    }, this.batch, TUN_HEADROOM);
  }

  /** Called when reading fails for good (e.g. the interface was deleted); without one the error is thrown as uncaught. */
  onError(handler: (err: Error) => void): void {
    this.errorHandler = handler;
  }

  /** Writes the packets; returns how many the kernel accepted (the rest were dropped and counted). */
  write(packets: readonly Uint8Array[]): number {
    if (this.closed) throw new Error(`tun ${this.name} is closed`);
    return this.dev.write(packets);
  }

  attachFastPath(fastPath: NativeFastPath | null): void {
    if (!this.closed) this.dev.setFastPath(fastPath);
  }

  kernelDrops(): { queue: number; write: number } {
    const { rx, tx } = readDeviceDrops(this.name);
    return { queue: tx, write: rx };
  }

  drops(): { writeFull: number; writeErrors: number; readMalformed: number } {
    const s = this.dev.stats();
    return { writeFull: s.txDropped, writeErrors: s.txErrors, readMalformed: s.rxInvalid };
  }

  addRoute(route: TunRoute): void {
    checkRoute(route);
    const c = route.cidr;
    if (isPrefix6(c)) this.dev.addRoute6(ip6Bytes(c.ip), c.bits, route.mtu, route.metric);
    else this.dev.addRoute(c.ip as number, c.bits, route.mtu, route.metric);
  }

  removeRoute(route: TunRoute): void {
    checkRoute(route);
    const c = route.cidr;
    if (isPrefix6(c)) this.dev.removeRoute6(ip6Bytes(c.ip), c.bits, undefined, route.metric);
    else this.dev.removeRoute(c.ip as number, c.bits, undefined, route.metric);
  }

  stats(): NativeTunStats {
    return this.dev.stats();
  }

  /** Lets the process exit while the device is open (like socket.unref()). */
  unref(): void {
    this.dev.unref();
  }

  ref(): void {
    this.dev.ref();
  }

  /** Closes the fd; the kernel removes the (non-persistent) interface and its routes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dev.close();
  }
}

/** Whether a route's destination is an IPv6 prefix. */
export function isPrefix6(c: Cidr | IpPrefix): c is IpPrefix & { family: 6 } {
  return 'family' in c && c.family === 6;
}

/** "10.1.0.0/16" or "fd00:1::/64". */
export function formatRouteCidr(c: Cidr | IpPrefix): string {
  return isPrefix6(c) ? formatIpPrefix(c) : formatCidr({ ip: Number(c.ip), bits: c.bits });
}

export function checkRoute(route: TunRoute): void {
  const c = route.cidr;
  const { bits } = c;
  const ok = isPrefix6(c)
    ? Number.isInteger(bits) && bits >= 0 && bits <= 128 && c.ip >= 0n && c.ip < 1n << 128n
    : Number.isInteger(bits) && bits >= 0 && bits <= 32 && Number.isInteger(c.ip) && (c.ip as number) >= 0 && (c.ip as number) <= 0xffffffff;
  if (!ok) throw new RangeError(`invalid route ${JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  if (route.mtu !== undefined && (!Number.isInteger(route.mtu) || route.mtu < 68 || route.mtu > 65535)) {
    throw new RangeError(`route ${formatRouteCidr(c)}: invalid mtu ${route.mtu}`);
  }
  if (route.metric !== undefined && (!Number.isInteger(route.metric) || route.metric < 0 || route.metric > 0xffffffff)) {
    throw new RangeError(`route ${formatRouteCidr(c)}: invalid metric ${route.metric}`);
  }
}

/**
 * Creates and configures a TUN device (Linux, needs CAP_NET_ADMIN): sets MTU, tx queue length,
 * address/prefix, brings it up and adds the routes. On any failure the device is closed again and
 * the error (with errno text) is thrown.
 */
export function openTun(options: TunOptions): TunDevice & NativeTunDevice {
  const { Tun } = loadNative();
  if (!Number.isInteger(options.mtu) || options.mtu < 68 || options.mtu > 65535) throw new RangeError(`invalid tun mtu ${options.mtu}`);
  const dev = new Tun(options.name ?? '', options.offload ?? true, options.ioUring ?? true);
  const device = new NativeTunDevice(dev, options.mtu, options.batch ?? 64);
  try {
    dev.setMtu(options.mtu);
    if (options.txQueueLength !== undefined) dev.setTxQueueLength(options.txQueueLength);
    dev.setAddress(options.address.ip, options.address.bits);
    dev.up();
    // IPv6 addresses need the interface up; each address brings its prefix route.
    for (const n of options.moreAddresses ?? []) {
      if (n.family === 6) dev.addAddress6(ip6Bytes(n.addr), n.bits);
      else dev.addAddress4(Number(n.addr), n.bits);
    }
    for (const route of options.routes ?? []) device.addRoute(route);
  } catch (err) {
    device.close();
    throw err;
  }
  return device;
}
