/**
 * Where a UDP benchmark run's datagrams went, and what they cost the daemons, read from /proc (no
 * spawns): the files under /proc/<pid>/net are those of the pid's namespace, so a daemon's pid
 * reads its host's counters.
 *
 * A datagram the sending iperf3 wrote is lost at h1's TUN queue (the sender outran h1's daemon), at
 * h2's daemon socket, at the receiving iperf3's socket, or elsewhere (anything else on the way);
 * the rest is delivered. The receiving socket's drops are h2's `RcvbufErrors` less those of the
 * daemon's socket (the iperf3 server's own socket is gone when the run ends). The daemon socket's
 * drops count what the kernel queued: with UDP GRO one drop can be a run of datagrams.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { rcvbufErrors, readDeviceDrops, readSocketDrops } from '../src/io/kernel-counters.js';

/** CPU time of every thread of `pid`, nanoseconds (the first field of each task's schedstat). */
export function cpuNs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns;
}

export interface UdpCounters {
  h1TunDropped: number;
  h2RcvbufErrors: number;
  h2DaemonDrops: number;
  cpuNs: [number, number];
}

/** The counters of the daemons `pids` (h1, h2): h1's TUN `tun`, h2's daemon socket on `port`. */
export function readCounters(pids: [number, number], tun: string, port: number): UdpCounters {
  const [h1, h2] = pids;
  return {
    h1TunDropped: readDeviceDrops(tun, `/proc/${h1}`).tx,
    h2RcvbufErrors: rcvbufErrors(readFileSync(`/proc/${h2}/net/snmp`, 'utf8')),
    h2DaemonDrops: readSocketDrops(port, `/proc/${h2}`),
    cpuNs: [cpuNs(h1), cpuNs(h2)],
  };
}

export interface UdpAccount {
  /** Datagrams per second lost at each place. */
  lostPps: { h1Tun: number; h2Daemon: number; receiver: number; elsewhere: number };
  /** CPU time of each daemon (all threads) per delivered datagram, microseconds. */
  cpuUsPerDatagram: [number, number];
}

/**
 * The account of one run: the counters before and after it, and iperf3's figures (datagrams sent,
 * lost, over `seconds`).
 */
export function account(before: UdpCounters, after: UdpCounters, run: { sent: number; lost: number; seconds: number }): UdpAccount {
  const delta = (k: 'h1TunDropped' | 'h2RcvbufErrors' | 'h2DaemonDrops') => Math.max(0, after[k] - before[k]);
  const h1Tun = delta('h1TunDropped');
  const h2Daemon = delta('h2DaemonDrops');
  const receiver = Math.max(0, delta('h2RcvbufErrors') - h2Daemon);
  const elsewhere = Math.max(0, run.lost - h1Tun - h2Daemon - receiver);
  const delivered = run.sent - run.lost;
  const perDatagram = (i: 0 | 1) => (delivered > 0 ? (after.cpuNs[i] - before.cpuNs[i]) / 1000 / delivered : NaN);
  const rate = (n: number) => n / run.seconds;
  return {
    lostPps: { h1Tun: rate(h1Tun), h2Daemon: rate(h2Daemon), receiver: rate(receiver), elsewhere: rate(elsewhere) },
    cpuUsPerDatagram: [perDatagram(0), perDatagram(1)],
  };
}
