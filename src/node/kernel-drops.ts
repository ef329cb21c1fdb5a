/**
 * The packets the kernel dropped on the node's behalf, which no counter of the node's own sees: at
 * its UDP socket (a full receive buffer), at its TUN device's queue (the node did not read fast
 * enough) and on TUN writes (the kernel refused what the node wrote). `mesh status` and the metrics
 * read them on demand; a check once a minute logs a warning when they moved, with what to change.
 */
import type { Logger } from 'pino';
import type { TunDevice } from '../io/tun.js';
import type { UdpBind } from '../io/udp.js';
import type { Timer, Timers } from './timers.js';

/**
 * Totals since the socket or device was opened; null where the device cannot tell (no TUN, no
 * /proc). With UDP GRO the socket counts a dropped run of datagrams once.
 */
export interface KernelDrops {
  udpSocket: number | null;
  tunQueue: number | null;
  tunWrite: number | null;
}

/** How often the warning check reads the counters. */
export const KERNEL_DROPS_CHECK_MS = 60_000;

export function readKernelDrops(udp: UdpBind, tun: TunDevice): KernelDrops {
  const read = <T>(f: (() => T) | undefined): T | null => {
    try {
      return f ? f() : null;
    } catch {
      return null; // the device is gone (the node stops on its own), or /proc is not mounted
    }
  };
  const tunDrops = read(tun.kernelDrops?.bind(tun));
  return { udpSocket: read(udp.kernelDrops?.bind(udp)), tunQueue: tunDrops?.queue ?? null, tunWrite: tunDrops?.write ?? null };
}

/**
 * Logs one warning per check in which any count rose, with the rise and what to change (`running`:
 * the socket's requested buffer and the TUN queue's length, which only a restart changes).
 */
export function watchKernelDrops(timers: Timers, read: () => KernelDrops, running: { readBuffer: number; txQueue: number }, log: Logger): Timer {
  let last = read();
  return timers.every(KERNEL_DROPS_CHECK_MS, () => {
    const now = read();
    const rise = (k: keyof KernelDrops) => (now[k] !== null && last[k] !== null ? Math.max(0, now[k] - last[k]) : 0);
    const rises = { udpSocket: rise('udpSocket'), tunQueue: rise('tunQueue'), tunWrite: rise('tunWrite') };
    last = now;
    const hints: string[] = [];
    if (rises.udpSocket > 0) hints.push(`the listen socket's receive buffer was full: raise listen.read_buffer (it asks for ${running.readBuffer} bytes; without CAP_NET_ADMIN the kernel caps that at net.core.rmem_max)`);
    if (rises.tunQueue > 0) hints.push(`the node fell behind reading its TUN device (a busy CPU, or tun.tx_queue ${running.txQueue} too short for bursts)`);
    if (rises.tunWrite > 0) hints.push('the kernel refused packets written to the TUN device');
    if (hints.length === 0) return;
    log.warn({ dropped: rises, seconds: KERNEL_DROPS_CHECK_MS / 1000 }, `the kernel dropped packets: ${hints.join('; ')}`);
  });
}
