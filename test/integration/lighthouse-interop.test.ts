/**
 * Lighthouse protocol against a real nebula 1.6.1, on loopback only (no root): nebula runs with
 * tun.disabled, mesh nodes run in process on real UDP sockets bound to 127.0.0.1 with an in-memory
 * TUN. Skips with the reason when `nebula` is not installed.
 *
 * 1. nebula lighthouse, two mesh nodes: they register, find each other through nebula's answers,
 *    and nebula's punch notification makes the target punch the querier.
 * 2. mesh lighthouse, a nebula node and a mesh node: nebula's updates land in the mesh book, the
 *    mesh node reaches nebula through the mesh answer, and nebula punches on the mesh notification.
 *    The lighthouse holds a revocation list (pki.revocations): nebula ignores the pushed list
 *    without a complaint, the mesh node applies it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { MemoryTun } from '../../src/io/memory.js';
import { bindUdp } from '../../src/io/udp.js';
import { parseIp } from '../../src/net/ipv4.js';
import { parseConfig } from '../../src/node/config.js';
import { startMesh as assemble, type Mesh } from '../../src/cli/assemble.js';
import { nebulaConfig, nebulaConfigYaml, type NodeConfigOptions } from '../../src/lab/configs.js';
import { terminate } from '../../src/lab/netns.js';
import { FAST_TIMERS, testLogger, waitFor } from '../helpers/memory-mesh.js';
import { icmpEcho as echo, parseIpv4 } from '../helpers/packets.js';
import { makeCA, makeHost, type TestHost } from '../../src/lab/pki.js';
import { skipOption } from '../helpers/skip.js';
import { encodeRevocationListPem, signRevocationList } from '../../pki/revocation.js';

const nebulaMissing = spawnSync('sh', ['-c', 'command -v nebula']).status === 0 ? undefined : '`nebula` is not installed';

const ca = makeCA('Lighthouse interop CA', { ips: ['10.43.0.0/16'] });
const lhHost = makeHost(ca, 'lh', '10.43.0.1/16');
const hostA = makeHost(ca, 'a', '10.43.0.2/16');
const hostB = makeHost(ca, 'b', '10.43.0.3/16');

/** A random block of three loopback ports (collisions with other runs are unlikely, and fail loudly). */
function ports(): [number, number, number] {
  const base = 30000 + Math.floor(Math.random() * 1000) * 30;
  return [base, base + 1, base + 2];
}

function pem(host: TestHost): Pick<NodeConfigOptions, 'ca' | 'cert' | 'key'> {
  return { ca: host.ca, cert: host.certPem, key: host.keyPem };
}

function startNebula(t: TestContext, name: string, options: NodeConfigOptions): { proc: ChildProcess; log: () => string } {
  const dir = mkdtempSync(join(tmpdir(), `mesh-lh-interop-${name}-`));
  const configPath = join(dir, 'config.yml');
  const logPath = join(dir, 'nebula.log');
  writeFileSync(configPath, nebulaConfigYaml({ ...options, tun: { disabled: true }, logLevel: 'debug' }));
  const fd = openSync(logPath, 'w');
  const proc = spawn('nebula', ['-config', configPath], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  t.after(async () => {
    await terminate(proc, 'SIGTERM', 10_000);
    rmSync(dir, { recursive: true, force: true });
  });
  return { proc, log: () => readFileSync(logPath, 'utf8') };
}

async function startMesh(t: TestContext, host: TestHost, port: number, options: Partial<NodeConfigOptions>): Promise<Mesh & { tun: MemoryTun }> {
  const raw = nebulaConfig({ ...pem(host), listen: { host: '127.0.0.1', port }, ...options, extra: { ...FAST_TIMERS, ...options.extra } });
  const { config } = parseConfig(raw, `${host.name}.yml`);
  let tun: MemoryTun | undefined;
  const mesh = await assemble(config, testLogger(host.name), {
    openTun: (o) => (tun = new MemoryTun(o)),
    bindUdp,
    // Only loopback traffic in this test: report no interface addresses.
    networkInterfaces: () => ({}),
  });
  t.after(() => mesh.stop());
  return { ...mesh, tun: tun! };
}

function clientOptions(lhPort: number, advertise: string[] = []): Partial<NodeConfigOptions> {
  return {
    staticHostMap: { [lhHost.ip]: [`127.0.0.1:${lhPort}`] },
    extra: {
      lighthouse: { am_lighthouse: false, interval: 1, hosts: [lhHost.ip], advertise_addrs: advertise },
      punchy: { punch: false, respond: false, delay: '50ms' },
    },
  };
}

/** Sends a HostQuery for `vpnIp` from `client` and resolves when a lighthouse answers it. */
function answered(client: Mesh, vpnIp: string): Promise<void> {
  const lighthouses = client.node.lighthouseClient;
  const takeAnswer = lighthouses.takeAnswer.bind(lighthouses);
  let got = false;
  lighthouses.takeAnswer = (lighthouse, details) => {
    if (details.vpnIp === parseIp(vpnIp)) got = true;
    takeAnswer(lighthouse, details);
  };
  lighthouses.query(parseIp(vpnIp));
  return waitFor(() => got, 10_000, `the lighthouse's answer about ${vpnIp}`).finally(() => (lighthouses.takeAnswer = takeAnswer));
}

test('mesh nodes find each other through a nebula 1.6.1 lighthouse, and get punched', { skip: skipOption(nebulaMissing), timeout: 30_000 }, async (t) => {
  const [lhPort, aPort, bPort] = ports();
  const lh = startNebula(t, 'lh', { ...pem(lhHost), listen: { host: '127.0.0.1', port: lhPort }, amLighthouse: true });
  await waitFor(() => /Nebula interface is active/.test(lh.log()), 10_000, 'nebula lighthouse up');
  const a = await startMesh(t, hostA, aPort, clientOptions(lhPort));
  const b = await startMesh(t, hostB, bPort, clientOptions(lhPort, ['127.0.0.6:4999']));
  // nebula logs nothing per update; its tunnels to both clients show they got through.
  await waitFor(() => !!a.node.hostmap.get(parseIp(lhHost.ip)) && !!b.node.hostmap.get(parseIp(lhHost.ip)), 10_000, 'tunnels to the lighthouse');
  await new Promise((r) => setTimeout(r, 200)); // the queued updates are delivered with the tunnels
  a.tun.inject([echo(hostA.ip, hostB.ip, 8, 1, 1)]);
  await waitFor(() => b.tun.written.length > 0, 10_000, 'ping from a at b');
  assert.equal(parseIpv4(b.tun.written[0]!).src, hostA.ip);
  assert.equal(a.node.hostmap.get(parseIp(hostB.ip))?.remote?.port, bPort);
  // nebula's answer carried b's learned address and what b reported.
  const known = a.node.hostmap.peekRemotes(parseIp(hostB.ip))!.addresses().map((e) => `${e.address}:${e.port}`);
  assert.ok(known.includes(`127.0.0.1:${bPort}`) && known.includes('127.0.0.6:4999'), known.join(', '));
  // nebula told b that a was looking for it: b punched a's address with a 0x00 byte.
  await waitFor(() => (a.node.stats.dropped['punch'] ?? 0) > 0, 10_000, 'punch from b at a');

  // The mesh extensions (container names and subnets, tunnel reports) sent to a nebula lighthouse
  // are ignored: no answer, no complaint in its (debug) log, and the tunnels and lighthouse service go on.
  const logBefore = lh.log().length;
  const report = a.node.lighthouseClient.tunnelReport();
  assert.ok(report.meshTunnels?.some((tunnel) => tunnel.peerIp === parseIp(hostB.ip) && tunnel.relayIp === 0), 'a reports its direct tunnel to b');
  a.node.lighthouseClient.sendUpdate(); // HostUpdateNotification, then MeshTunnelsReport
  a.node.names.publish([{ name: 'web', ips: [parseIp('10.43.9.2')] }]);
  assert.deepEqual(await b.node.names.resolve('web'), [], 'nobody answers a name query');
  b.node.subnets.setRanges([{ ip: parseIp('10.43.9.0'), bits: 24 }]);
  assert.ok(b.node.subnets.hold(parseIp('10.43.9.2'), echo(hostB.ip, '10.43.9.2', 8, 1, 1)));
  // A plain HostQuery from each client after those: once both are answered, the lighthouse (one
  // reader, each tunnel's datagrams in order over loopback) has handled every extension message.
  await Promise.all([answered(a, hostB.ip), answered(b, hostA.ip)]);
  const added = lh.log().slice(logBefore);
  assert.doesNotMatch(added, /level=(error|warning)|Unhandled|Failed to unmarshal/i, added);
  assert.equal(lh.proc.exitCode, null, 'the nebula lighthouse still runs');
  b.tun.inject([echo(hostB.ip, hostA.ip, 8, 1, 2)]);
  await waitFor(() => a.tun.written.some((p) => parseIpv4(p).src === hostB.ip), 10_000, 'ping from b at a afterwards');
});

test('a nebula 1.6.1 node registers with a mesh lighthouse and is reached through it', { skip: skipOption(nebulaMissing), timeout: 30_000 }, async (t) => {
  const [lhPort, aPort, bPort] = ports();
  const dir = mkdtempSync(join(tmpdir(), 'mesh-lh-interop-revocations-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const revoked = 'c'.repeat(64);
  const revocations = join(dir, 'revocations.pem');
  writeFileSync(revocations, encodeRevocationListPem(signRevocationList(ca.cert, ca.key, 1, [revoked])));
  const lh = await startMesh(t, lhHost, lhPort, { amLighthouse: true, tun: { disabled: true }, extra: { pki: { ...pem(lhHost), revocations } } });
  const nebula = startNebula(t, 'b', {
    ...pem(hostB),
    listen: { host: '127.0.0.1', port: bPort },
    staticHostMap: { [lhHost.ip]: [`127.0.0.1:${lhPort}`] },
    lighthouses: [lhHost.ip],
    extra: {
      lighthouse: {
        am_lighthouse: false,
        interval: 1,
        hosts: [lhHost.ip],
        // Loopback only: no interface address is reported, one advertised loopback address is.
        local_allow_list: { '0.0.0.0/0': false, '::/0': false },
        advertise_addrs: ['127.0.0.5:4999'],
      },
    },
  });
  const B = parseIp(hostB.ip);
  const book = () => (lh.lighthouse!.server.addressesOf(B)?.v4 ?? []).map((e) => `${e.address}:${e.port}`);
  await waitFor(() => book().length === 2, 15_000, 'nebula registered');
  assert.deepEqual(book(), [`127.0.0.1:${bPort}`, '127.0.0.5:4999'], 'learned address first, then what nebula reported');
  const a = await startMesh(t, hostA, aPort, clientOptions(lhPort));
  a.tun.inject([echo(hostA.ip, hostB.ip, 8, 1, 1)]);
  // nebula's disabled tun answers ping itself.
  await waitFor(() => a.tun.written.some((p) => parseIpv4(p).src === hostB.ip), 15_000, 'echo reply from nebula');
  await waitFor(() => (a.node.stats.dropped['punch'] ?? 0) > 0, 10_000, 'punch from nebula at a');
  // The revocation list reached the mesh node; nebula got it too and ignored it quietly.
  await waitFor(() => a.node.identity.blocklist.has(revoked), 10_000, 'revocation list applied by the mesh node');
  assert.doesNotMatch(nebula.log(), /level=(error|warning)|Unhandled|Failed to unmarshal/i);
  assert.equal(nebula.proc.exitCode, null, 'nebula still runs');
});
