/**
 * What a node's socket and TUN device dropped: how the kernel's counts and the devices' own are read
 * (null, or no reason, where one cannot tell), the once-a-minute warning when buffer drops grow,
 * and how `mesh status` shows them.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino, type Logger } from 'pino';
import { formatStatus, type StatusReport } from '../../../src/cli/status.js';
import { MemoryNetwork, MemoryTun } from '../../../src/io/memory.js';
import { nebulaConfig } from '../../../src/lab/configs.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';
import { parseConfig } from '../../../src/node/config.js';
import { MeshNode } from '../../../src/node/node.js';
import { nodeStatus } from '../../../src/node/status.js';
import type { TunDevice } from '../../../src/io/tun.js';
import type { UdpBind } from '../../../src/io/udp.js';
import { DEVICE_DROPS_CHECK_MS, deviceDropReasons, readKernelDrops, watchDeviceDrops, type DeviceDrops, type KernelDrops } from '../../../src/node/device-drops.js';
import { FakeTimers } from '../../helpers/fake-timers.js';

type UdpStub = Pick<UdpBind, 'kernelDrops' | 'drops'>;
type TunStub = Pick<TunDevice, 'kernelDrops' | 'drops'>;
const udpWith = (stub: UdpStub = {}) => stub as UdpBind;
const tunWith = (stub: TunStub = {}) => stub as TunDevice;
const gone = () => {
  throw new Error('no device mesh7 in /proc/net/dev');
};

function recordingLog(): { log: Logger; warnings: { fields: Record<string, unknown>; message: string }[] } {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const log = { warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }) } as unknown as Logger;
  return { log, warnings };
}

describe('device drops: reading', () => {
  it("reads the kernel's counts for the socket and the TUN device", () => {
    const counts = readKernelDrops(udpWith({ kernelDrops: () => 12 }), tunWith({ kernelDrops: () => ({ queue: 3, write: 1 }) }));
    assert.deepEqual(counts, { udpSocket: 12, tunQueue: 3, tunWrite: 1 });
  });

  it('gives null for a device that cannot tell (no TUN, an in-memory socket) or whose read fails', () => {
    assert.deepEqual(readKernelDrops(udpWith(), tunWith()), { udpSocket: null, tunQueue: null, tunWrite: null });
    assert.deepEqual(readKernelDrops(udpWith({ kernelDrops: () => 5 }), tunWith({ kernelDrops: gone })), { udpSocket: 5, tunQueue: null, tunWrite: null });
  });

  it("names the devices' own drops as drop reasons, only those that happened", () => {
    const udp = udpWith({ drops: () => ({ sendBufferFull: 4, sendErrors: 0, receiveTruncated: 2 }) });
    const tun = tunWith({ drops: () => ({ writeFull: 0, writeErrors: 7, readMalformed: 1 }) });
    assert.deepEqual(deviceDropReasons(udp, tun), { 'udp-send-buffer-full': 4, 'udp-truncated': 2, 'tun-write-error': 7, 'tun-malformed': 1 });
    const udpErrors = udpWith({ drops: () => ({ sendBufferFull: 0, sendErrors: 9, receiveTruncated: 0 }) });
    assert.deepEqual(deviceDropReasons(udpErrors, tunWith({ drops: gone })), { 'udp-send-error': 9 });
    assert.deepEqual(deviceDropReasons(udpWith(), tunWith()), {});
  });
});

describe('device drops: the warning', () => {
  const running = { readBuffer: 8 << 20, writeBuffer: 4 << 20, txQueue: 500 };
  const none = { udpSocket: null, tunQueue: null, tunWrite: null };

  it('warns once per check in which a buffer or queue count rose, with the rises and what to change', () => {
    const timers = new FakeTimers();
    const { log, warnings } = recordingLog();
    let drops: DeviceDrops = { kernel: { udpSocket: 100, tunQueue: 7, tunWrite: 0 }, reasons: { 'udp-send-buffer-full': 3 } };
    const check = watchDeviceDrops(timers, () => drops, running, log);

    timers.advance(DEVICE_DROPS_CHECK_MS);
    assert.equal(warnings.length, 0, 'counts that stood still since the start are no news');

    drops = { kernel: { udpSocket: 350, tunQueue: 7, tunWrite: 0 }, reasons: { 'udp-send-buffer-full': 3, 'udp-send-error': 40 } };
    timers.advance(DEVICE_DROPS_CHECK_MS);
    assert.equal(warnings.length, 1);
    assert.deepEqual(warnings[0]!.fields, { dropped: { udpSocket: 250, tunQueue: 0, tunWrite: 0, udpSendBufferFull: 0 }, seconds: 60 });
    assert.match(warnings[0]!.message, /receive buffer was full: raise listen\.read_buffer \(it asks for 8388608 bytes/);
    assert.doesNotMatch(warnings[0]!.message, /TUN|send buffer/);

    drops = { kernel: { udpSocket: 350, tunQueue: 907, tunWrite: 2 }, reasons: { 'udp-send-buffer-full': 13 } };
    timers.advance(DEVICE_DROPS_CHECK_MS - 1);
    assert.equal(warnings.length, 1, 'no check before the minute is up');
    timers.advance(1);
    assert.equal(warnings.length, 2);
    assert.deepEqual(warnings[1]!.fields.dropped, { udpSocket: 0, tunQueue: 900, tunWrite: 2, udpSendBufferFull: 10 });
    assert.match(warnings[1]!.message, /full send buffer or device queue \(EAGAIN, ENOBUFS\): raise listen\.write_buffer \(it asks for 4194304 bytes/);
    assert.match(warnings[1]!.message, /fell behind reading its TUN device \(a busy CPU, or tun\.tx_queue 500 too short/);
    assert.match(warnings[1]!.message, /refused packets written to the TUN device/);

    check.cancel();
    drops = { kernel: { udpSocket: 10_000, tunQueue: 10_000, tunWrite: 10_000 }, reasons: { 'udp-send-buffer-full': 10_000 } };
    timers.advance(10 * DEVICE_DROPS_CHECK_MS);
    assert.equal(warnings.length, 2, 'no warning after cancel');
  });

  it('says nothing for counts it cannot read or for send errors alone, and takes a count that comes back as a new start', () => {
    const timers = new FakeTimers();
    const { log, warnings } = recordingLog();
    let drops: DeviceDrops = { kernel: { ...none, udpSocket: 5 }, reasons: {} };
    watchDeviceDrops(timers, () => drops, running, log);
    drops = { kernel: none, reasons: { 'udp-send-error': 1000 } };
    timers.advance(DEVICE_DROPS_CHECK_MS);
    drops = { kernel: { ...none, udpSocket: 900 }, reasons: { 'udp-send-error': 2000 } };
    timers.advance(DEVICE_DROPS_CHECK_MS);
    assert.equal(warnings.length, 0);
    drops = { kernel: { ...none, udpSocket: 901 }, reasons: {} };
    timers.advance(DEVICE_DROPS_CHECK_MS);
    assert.deepEqual(
      warnings.map((w) => w.fields.dropped),
      [{ udpSocket: 1, tunQueue: 0, tunWrite: 0, udpSendBufferFull: 0 }],
    );
  });
});

describe('device drops: mesh status', () => {
  const report = (kernel?: KernelDrops): StatusReport =>
    ({
      node: { name: 'a', vpnIp: '10.42.0.2', network: '10.42.0.0/16', networks: ['10.42.0.0/16'], groups: [], subnets: [], fingerprint: 'f', listen: '0.0.0.0:4242', tun: 'mesh1', cipher: 'aes' },
      certificate: { notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z', expiresInSeconds: 1e7, warning: null, versions: [1], initiatingVersion: 1 },
      lighthouses: [],
      relays: { amRelay: false, useRelays: true, relays: [] },
      tunnels: [],
      pending: [],
      counters: { rxPackets: 0, txPackets: 0, dropped: {}, fastPath: null, ...(kernel ? { kernel } : {}) },
    }) as StatusReport;

  it('shows the counts that are not zero, and nothing when all are zero, unknown, or from an older node', () => {
    const text = formatStatus(report({ udpSocket: 1234, tunQueue: 0, tunWrite: 5 }), Date.now());
    assert.match(text, /^kernel drops: udp socket \(receive buffer full\) 1234, tun writes 5$/m);
    for (const kernel of [{ udpSocket: 0, tunQueue: 0, tunWrite: 0 }, { udpSocket: null, tunQueue: null, tunWrite: null }, undefined]) {
      assert.doesNotMatch(formatStatus(report(kernel), Date.now()), /kernel drops/);
    }
  });
});

describe('device drops: a node', () => {
  it("reports its devices' counts in its status and metrics' reasons, and warns a minute after they grew; stopping ends the checks", async () => {
    const host = makeHost(makeCA('Drops CA', { ips: ['10.31.0.0/16'] }), 'a', '10.31.0.1/16');
    const raw = nebulaConfig({ ca: host.ca, cert: host.certPem, key: host.keyPem, listen: { host: '192.0.2.1', port: 4242 }, extra: { listen: { host: '192.0.2.1', port: 4242, read_buffer: 65536 }, tun: { tx_queue: 1000 } } });
    const counts = { socket: 0, queue: 0, write: 0, sendErrors: 0 };
    const warnings: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        const line = JSON.parse(String(chunk)) as { level: number; msg: string };
        if (line.level === 40) warnings.push(line.msg);
        done();
      },
    });
    const timers = new FakeTimers();
    const net = new MemoryNetwork();
    const node = await MeshNode.start(parseConfig(raw, 'a.yml').config, pino({ level: 'warn' }, sink), {
      timers,
      openTun: (o) => Object.assign(new MemoryTun(o), { kernelDrops: () => ({ queue: counts.queue, write: counts.write }) }),
      bindUdp: async (o) =>
        Object.assign(net.bind('192.0.2.1', o.port), {
          kernelDrops: () => counts.socket,
          drops: () => ({ sendBufferFull: 0, sendErrors: counts.sendErrors, receiveTruncated: 0 }),
        }),
    });
    try {
      assert.deepEqual(nodeStatus(node).counters.kernel, { udpSocket: 0, tunQueue: 0, tunWrite: 0 });
      assert.deepEqual(nodeStatus(node).counters.dropped, {});
      Object.assign(counts, { socket: 40, queue: 9, sendErrors: 3 });
      node.stats.dropped['bad-tag'] = 2;
      assert.deepEqual(nodeStatus(node).counters.kernel, { udpSocket: 40, tunQueue: 9, tunWrite: 0 });
      assert.deepEqual(nodeStatus(node).counters.dropped, { 'bad-tag': 2, 'udp-send-error': 3 });
      assert.deepEqual(node.stats.dropped, { 'bad-tag': 2 }, "the devices' reasons are read, not folded into the node's own counts");
      timers.advance(DEVICE_DROPS_CHECK_MS);
      await new Promise((resolve) => setImmediate(resolve));
      const found = warnings.filter((m) => m.startsWith('packets dropped: '));
      assert.equal(found.length, 1, warnings.join('\n'));
      assert.match(found[0]!, /raise listen\.read_buffer \(it asks for 65536 bytes/);
      assert.match(found[0]!, /tun\.tx_queue 1000 too short/);
    } finally {
      await node.stop();
    }
    counts.socket = 1000;
    timers.advance(5 * DEVICE_DROPS_CHECK_MS);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(warnings.filter((m) => m.startsWith('packets dropped: ')).length, 1, 'no check after stop');
  });
});
