/**
 * The tunnel benchmark's UDP accounting: the CPU-time reader on this kernel, and the arithmetic of
 * one run's account (the /proc drop counters it reads are src/io/kernel-counters', tested there).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { account, cpuNs, type UdpCounters } from '../../../bench/udp-accounting.js';

describe('bench UDP accounting: this kernel', () => {
  it("reads a process's CPU time over all its threads, as getrusage counts it", () => {
    // Busy until the kernel's own count (getrusage, via process.cpuUsage) says 30 ms of CPU: a
    // wall-clock wait would spend less on a loaded machine. The reading encloses that interval.
    const start = cpuNs(process.pid);
    const before = process.cpuUsage();
    let used = 0;
    while (used < 30_000) {
      const u = process.cpuUsage(before);
      used = u.user + u.system;
    }
    const spent = cpuNs(process.pid) - start;
    assert.ok(spent >= 0.9 * used * 1000 && spent < used * 1000 + 20e6, `spent ${spent} ns, getrusage ${used} us`);
  });
});

describe('bench UDP accounting: one run', () => {
  const counters = (h1TunDropped: number, h2RcvbufErrors: number, h2DaemonDrops: number, cpu: [number, number]): UdpCounters => ({ h1TunDropped, h2RcvbufErrors, h2DaemonDrops, cpuNs: cpu });

  it('places every lost datagram and divides the CPU by what arrived', () => {
    const a = account(counters(10, 100, 40, [1e9, 2e9]), counters(4010, 9100, 1040, [1.5e9, 2.2e9]), { sent: 400_000, lost: 15_000, seconds: 4 });
    // 4000 at h1's tun, 1000 at h2's daemon, 9000 - 1000 at the receiver, 2000 elsewhere, over 4 s.
    assert.deepEqual(a.lostPps, { h1Tun: 1000, h2Daemon: 250, receiver: 2000, elsewhere: 500 });
    assert.deepEqual(a.cpuUsPerDatagram, [0.5e6 / 385_000, 0.2e6 / 385_000]);
  });

  it('never reports a negative loss, and no cost per datagram when none arrived', () => {
    const a = account(counters(0, 0, 0, [0, 0]), counters(0, 5, 9, [1e6, 1e6]), { sent: 10, lost: 10, seconds: 1 });
    assert.deepEqual(a.lostPps, { h1Tun: 0, h2Daemon: 9, receiver: 0, elsewhere: 1 });
    assert.ok(a.cpuUsPerDatagram.every(Number.isNaN));
  });
});

