/**
 * The kernel's drop counters: the /proc parsers on the kernel's formats, and on this kernel's live
 * files (a socket that overflows on loopback).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { deviceDrops, rcvbufErrors, readDeviceDrops, readSocketDrops, socketDrops, socketInodes, udpCounter } from '../../../src/io/kernel-counters.js';

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

describe('kernel counters: /proc parsers', () => {
  it("reads a device's receive and transmit drops by exact name", () => {
    assert.deepEqual(deviceDrops(NET_DEV, 'mb0'), { rx: 7, tx: 4242 });
    assert.deepEqual(deviceDrops(NET_DEV, 'mb10'), { rx: 0, tx: 99 });
    assert.deepEqual(deviceDrops(NET_DEV, 'lo'), { rx: 0, tx: 0 });
    assert.throws(() => deviceDrops(NET_DEV, 'mb'), /no device mb/);
    assert.throws(() => deviceDrops('mb0: 1 2 3\n', 'mb0'), /no device mb0/);
  });

  it("reads Udp's RcvbufErrors, not UdpLite's", () => {
    assert.equal(rcvbufErrors(SNMP), 1957980);
    assert.equal(udpCounter(SNMP, 'InDatagrams'), 10587129);
    assert.throws(() => rcvbufErrors('Ip: Forwarding\nIp: 1\n'), /RcvbufErrors/);
  });

  it('sums the drops of the sockets on one local port, IPv4 and IPv6 tables alike, or of those with given inodes', () => {
    assert.equal(socketDrops(PROC_UDP, 4242), 17 + 3);
    assert.equal(socketDrops(PROC_UDP, 5201), 517408);
    assert.equal(socketDrops(PROC_UDP, 5202), 0);
    assert.equal(socketDrops(PROC_UDP6, 4242), 5);
    assert.equal(socketDrops(PROC_UDP, 4242, new Set([96069])), 17);
    assert.equal(socketDrops(PROC_UDP, 4242, new Set([98112])), 0, 'an inode on another port');
    assert.equal(socketDrops(PROC_UDP, 4242, new Set()), 0);
  });

  it("reads both tables of a namespace for the process's own sockets, and counts a missing IPv6 table as none", () => {
    const proc = mkdtempSync(join(tmpdir(), 'mesh-proc-'));
    try {
      mkdirSync(join(proc, 'net'));
      mkdirSync(join(proc, 'fd'));
      // The process holds the IPv4 socket 96069 on 4242 and the IPv6 one 96070, and a file; 98113 (4242 too) is another's.
      symlinkSync('socket:[96069]', join(proc, 'fd', '3'));
      symlinkSync('socket:[96070]', join(proc, 'fd', '4'));
      symlinkSync('/var/log/mesh.log', join(proc, 'fd', '5'));
      assert.deepEqual(socketInodes(proc), new Set([96069, 96070]));
      assert.throws(() => readSocketDrops(4242, proc), /ENOENT/);
      writeFileSync(join(proc, 'net', 'udp'), PROC_UDP);
      assert.equal(readSocketDrops(4242, proc), 17);
      writeFileSync(join(proc, 'net', 'udp6'), PROC_UDP6);
      assert.equal(readSocketDrops(4242, proc), 22);
      assert.throws(() => readDeviceDrops('mb0', proc), /ENOENT/);
      writeFileSync(join(proc, 'net', 'dev'), NET_DEV);
      assert.deepEqual(readDeviceDrops('mb0', proc), { rx: 7, tx: 4242 });
    } finally {
      rmSync(proc, { recursive: true });
    }
  });
});

describe('kernel counters: this kernel', () => {
  it("counts a receiving socket's overflow in its drops and in RcvbufErrors", async () => {
    const receiver = createSocket({ type: 'udp4', recvBufferSize: 4096 });
    const sender = createSocket('udp4');
    try {
      receiver.bind(0, '127.0.0.1');
      sender.bind(0, '127.0.0.1');
      await Promise.all([once(receiver, 'listening'), once(sender, 'listening')]);
      receiver.on('message', () => {});
      const { port } = receiver.address();
      const snmp = () => rcvbufErrors(readFileSync('/proc/self/net/snmp', 'utf8'));
      const before = { drops: readSocketDrops(port), rcvbuf: snmp() };
      // A bound socket's sends leave at once (libuv tries each send before queueing it); the receiver
      // reads only when this loop gives the event loop back, so its 4 KiB buffer overflows.
      const payload = Buffer.alloc(1200);
      for (let i = 0; i < 200; i++) sender.send(payload, port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const drops = readSocketDrops(port) - before.drops;
      const rcvbuf = snmp() - before.rcvbuf;
      assert.ok(drops >= 150, `socket drops ${drops}`);
      assert.ok(rcvbuf >= drops, `RcvbufErrors ${rcvbuf}, socket drops ${drops}`);
      assert.equal(readSocketDrops(sender.address().port), 0, "the sender's socket dropped nothing");
    } finally {
      receiver.close();
      sender.close();
    }
  });

  it("counts this process's socket on a port, not another process's on the same port", async () => {
    const own = createSocket('udp4');
    own.bind(0, '127.0.0.1');
    await once(own, 'listening');
    const { port } = own.address();
    // Another process binds the same port on 127.0.0.2 with a 4 KiB buffer and then busy-waits
    // without reading, while this one floods it.
    const script = `const s = require('node:dgram').createSocket({ type: 'udp4', recvBufferSize: 4096 });
      s.bind(${port}, '127.0.0.2', () => { console.log('bound'); const end = Date.now() + 1500; while (Date.now() < end); s.close(); });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const sender = createSocket('udp4');
    try {
      await once(child.stdout!, 'data');
      const payload = Buffer.alloc(1200);
      for (let i = 0; i < 200; i++) sender.send(payload, port, '127.0.0.2');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const all = socketDrops(readFileSync('/proc/self/net/udp', 'utf8'), port);
      assert.ok(all >= 150, `the other process's socket dropped ${all}`);
      assert.equal(readSocketDrops(port), 0);
    } finally {
      sender.close();
      own.close();
      if (child.exitCode === null) await once(child, 'exit');
    }
  });

  it("reads the loopback device's counters, and names a device that is not there", () => {
    const lo = readDeviceDrops('lo');
    assert.ok(Number.isInteger(lo.rx) && Number.isInteger(lo.tx));
    assert.throws(() => readDeviceDrops('mesh-no-such0'), /no device mesh-no-such0/);
  });
});
