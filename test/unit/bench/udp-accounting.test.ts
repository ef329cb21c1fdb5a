/**
 * The tunnel benchmark's UDP accounting: the /proc parsers on the kernel's formats, on this kernel's
 * live files (a socket that overflows on loopback), and the arithmetic of one run's account.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { account, cpuNs, rcvbufErrors, socketDrops, txDropped, udpCounter, type UdpCounters } from '../../../bench/udp-accounting.js';

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1200      12    0    0    0     0          0         0     1200      12    0    0    0     0       0          0
   mb0: 9876543  123456    0    7    0     0          0         0 87654321  654321    0 4242    0     0       0          0
mb10:       0       0    0    0    0     0          0         0        0       0    0   99    0     0       0          0
`;

const SNMP = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 100
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 10587129 126 1957983 12541872 1957980 0 3 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 11 0 0 0 0
`;

const PROC_UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
  119: 00000000:1092 00000000:00000000 07 00000000:00000000 00:00000000 00000000     0        0 96069 2 000000002ee8c8e6 17        
  548: 0200580A:1451 00000000:0000AB00 07 00000000:00010DE0 00:00000000 00000000     0        0 98112 2 00000000a1b2c3d4 517408   
  550: 0100007F:1092 0100007F:1451 01 00000000:00000000 00:00000000 00000000     0        0 98113 2 00000000a1b2c3d5 3        
`;

const PROC_UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  119: 00000000000000000000000000000000:1092 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 96070 2 000000003ee8c8e6 5
`;

describe('bench UDP accounting: /proc parsers', () => {
  it("reads a device's transmit drops by exact name", () => {
    assert.equal(txDropped(NET_DEV, 'mb0'), 4242);
    assert.equal(txDropped(NET_DEV, 'mb10'), 99);
    assert.equal(txDropped(NET_DEV, 'lo'), 0);
    assert.throws(() => txDropped(NET_DEV, 'mb'), /no device mb/);
  });

  it("reads Udp's RcvbufErrors, not UdpLite's", () => {
    assert.equal(rcvbufErrors(SNMP), 1957980);
    assert.equal(udpCounter(SNMP, 'InDatagrams'), 10587129);
    assert.throws(() => rcvbufErrors('Ip: Forwarding\nIp: 1\n'), /RcvbufErrors/);
  });

  it('sums the drops of the sockets on one local port, IPv4 and IPv6 tables alike', () => {
    assert.equal(socketDrops(PROC_UDP, 4242), 17 + 3);
    assert.equal(socketDrops(PROC_UDP, 5201), 517408);
    assert.equal(socketDrops(PROC_UDP, 5202), 0);
    assert.equal(socketDrops(PROC_UDP6, 4242), 5);
  });
});

describe('bench UDP accounting: this kernel', () => {
  it("counts a receiving socket's overflow in its drops and in RcvbufErrors", async () => {
    const receiver = createSocket({ type: 'udp4', recvBufferSize: 4096 });
    const sender = createSocket('udp4');
    try {
      receiver.bind(0, '127.0.0.1');
      sender.bind(0, '127.0.0.1');
      await Promise.all([once(receiver, 'listening'), once(sender, 'listening')]);
      receiver.on('message', () => {});
      const { port } = receiver.address();
      const before = { drops: socketDrops(readFileSync('/proc/self/net/udp', 'utf8'), port), rcvbuf: rcvbufErrors(readFileSync('/proc/self/net/snmp', 'utf8')) };
      // A bound socket's sends leave at once (libuv tries each send before queueing it); the receiver
      // reads only when this loop gives the event loop back, so its 4 KiB buffer overflows.
      const payload = Buffer.alloc(1200);
      for (let i = 0; i < 200; i++) sender.send(payload, port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const drops = socketDrops(readFileSync('/proc/self/net/udp', 'utf8'), port) - before.drops;
      const rcvbuf = rcvbufErrors(readFileSync('/proc/self/net/snmp', 'utf8')) - before.rcvbuf;
      assert.ok(drops >= 150, `socket drops ${drops}`);
      assert.ok(rcvbuf >= drops, `RcvbufErrors ${rcvbuf}, socket drops ${drops}`);
    } finally {
      receiver.close();
      sender.close();
    }
  });

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

