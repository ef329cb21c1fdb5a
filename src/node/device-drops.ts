/**
 * What the node's socket and TUN device dropped, which the packet handling never sees:
 *  - the kernel's counts: datagrams the socket had no room for (a full receive buffer), packets
 *    the TUN queue had no room for (the node did not read fast enough), TUN writes it refused;
 *  - the devices' own: sends refused for a full send buffer or failed (no route, a firewall rule),
 *    received datagrams cut short, TUN writes that failed, malformed reads from the kernel.
 * `mesh status` and the metrics read them on demand (the devices' own as reasons of the node's
 * drop counts); a check once a minute logs a warning when the buffer drops grew, with what to change.
 */
import type { Logger } from 'pino';
import type { TunDevice } from '../io/tun.js';
import type { UdpBind } from '../io/udp.js';
import type { Timer, Timers } from './timers.js';

/**
 * The kernel's totals since the socket or device was opened; null where the device cannot tell (no
 * TUN, no /proc). With UDP GRO the socket counts a dropped run of datagrams once.
 */
export interface KernelDrops {
  udpSocket: number | null;
  tunQueue: number | null;
  tunWrite: number | null;
}

/** How often the warning check reads the counters. */
export const DEVICE_DROPS_CHECK_MS = 60_000;

export function readKernelDrops(udp: UdpBind, tun: TunDevice): KernelDrops {
  const tunDrops = attempt(tun.kernelDrops?.bind(tun));
  return { udpSocket: attempt(udp.kernelDrops?.bind(udp)), tunQueue: tunDrops?.queue ?? null, tunWrite: tunDrops?.write ?? null };
}

/** The devices' own drops as drop reasons, those that happened (the node's `dropped` counts hold only those too). */
export function deviceDropReasons(udp: UdpBind, tun: TunDevice): Record<string, number> {
  const u = attempt(udp.drops?.bind(udp));
  const t = attempt(tun.drops?.bind(tun));
  const all: [string, number | undefined][] = [
    ['udp-send-buffer-full', u?.sendBufferFull],
    ['udp-send-error', u?.sendErrors],
    ['udp-truncated', u?.receiveTruncated],
    ['tun-write-full', t?.writeFull],
    ['tun-write-error', t?.writeErrors],
    ['tun-malformed', t?.readMalformed],
  ];
  return Object.fromEntries(all.filter((e): e is [string, number] => (e[1] ?? 0) > 0));
}

function attempt<T>(read: (() => T) | undefined): T | null {
  try {
    return read ? read() : null;
  } catch {
    return null; // the device is gone (the node stops on its own), or /proc is not mounted
  }
}

/** What the warning check reads: the kernel's counts and the devices' reasons. */
export interface DeviceDrops {
  kernel: KernelDrops;
  reasons: Record<string, number>;
}

/** The socket buffers the node asked for and the TUN queue's length: what the hints name (a restart changes them). */
export interface DeviceSettings {
  readBuffer: number;
  writeBuffer: number;
  txQueue: number;
}

/** Logs one warning per check in which a buffer or queue drop count rose, with the rises and what to change. */
export function watchDeviceDrops(timers: Timers, read: () => DeviceDrops, running: DeviceSettings, log: Logger): Timer {
  // The counts watched: the kernel's, and the sends refused for a full buffer (a reason only once it happened).
  const watched = (d: DeviceDrops) => ({ ...d.kernel, udpSendBufferFull: d.reasons['udp-send-buffer-full'] ?? 0 });
  let last = watched(read());
  return timers.every(DEVICE_DROPS_CHECK_MS, () => {
    const now = watched(read());
    const rise = (k: keyof typeof now) => {
      const [a, b] = [now[k], last[k]];
      return a !== null && b !== null ? Math.max(0, a - b) : 0;
    };
    const rises = { udpSocket: rise('udpSocket'), tunQueue: rise('tunQueue'), tunWrite: rise('tunWrite'), udpSendBufferFull: rise('udpSendBufferFull') };
    last = now;
    const hints: string[] = [];
    if (rises.udpSocket > 0) hints.push(`the listen socket's receive buffer was full: raise listen.read_buffer (it asks for ${running.readBuffer} bytes; without CAP_NET_ADMIN the kernel caps that at net.core.rmem_max)`);
    if (rises.udpSendBufferFull > 0) hints.push(`the kernel refused sends for a full send buffer or device queue (EAGAIN, ENOBUFS): raise listen.write_buffer (it asks for ${running.writeBuffer} bytes; without CAP_NET_ADMIN the kernel caps that at net.core.wmem_max)`);
    if (rises.tunQueue > 0) hints.push(`the node fell behind reading its TUN device (a busy CPU, or tun.tx_queue ${running.txQueue} too short for bursts)`);
    if (rises.tunWrite > 0) hints.push('the kernel refused packets written to the TUN device');
    if (hints.length === 0) return;
    log.warn({ dropped: rises, seconds: DEVICE_DROPS_CHECK_MS / 1000 }, `packets dropped: ${hints.join('; ')}`);
  });
}
