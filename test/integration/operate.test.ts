/**
 * Operating a running mesh (issue 9), in network namespaces with real TUN devices (root only): a
 * lighthouse, a relay and two nodes. `mesh status --json` shows each node the other over a direct
 * path, then through the relay once the direct path is blocked with iptables; `mesh ping` answers
 * both ways and fails for a host that does not exist; Prometheus scrapes (real HTTP GETs inside
 * the namespaces) show tunnel, byte and drop counters that move with the traffic; a SIGHUP that
 * adds an unsafe route makes the network behind a node reachable (and `mesh reload` without it
 * removes the kernel route); `mesh ca revoke` of b's certificate, loaded into the lighthouse, cuts
 * b off from a within 10 s while a still reaches the others. The drops only the kernel sees (a
 * stopped node's full socket and TUN queue) show in `mesh status` and the metrics, as `ss` and `ip`
 * count them, and so do sends a firewall rule refuses.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MESH_BIN } from '../../src/lab/binaries.js';
import { labSkipReason } from '../../src/lab/lab.js';
import { withOverlayLab, type OverlayLab } from '../../src/lab/overlay.js';
import { pollUntil } from '../../src/lab/wait.js';
import type { StatusReport } from '../../src/cli/status.js';
import { skipTest } from '../helpers/skip.js';

/** Short liveness timers: a blocked direct tunnel is declared dead within seconds. */
const FAST_TIMERS = { timers: { connection_alive_interval: '1s', pending_deletion_interval: '2s' }, handshakes: { try_interval: '200ms', retries: 10 } };

const METRICS_PORT = 9464;
/** A network behind b (an address on the loopback of b's namespace), routed to by a's unsafe_routes after a reload. */
const BEHIND_B = '10.199.40.0/24';
const BEHIND_B_HOST = '10.199.40.1';

/** Prometheus stats on the host's underlay address, Nebula's keys. */
function statsOn(lab: OverlayLab, host: string) {
  return {
    stats: { type: 'prometheus', listen: `${lab.host(host).underlayIp}:${METRICS_PORT}`, path: '/metrics', namespace: 'nebula', interval: '10s', lighthouse_metrics: true, message_metrics: true },
  };
}

/** One scrape: a real HTTP GET from inside the host's namespace, parsed into "name{labels}" -> value. */
async function scrape(lab: OverlayLab, host: string, path = '/metrics'): Promise<Map<string, number>> {
  const url = `http://${lab.host(host).underlayIp}:${METRICS_PORT}${path}`;
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => { if (r.status !== 200) { console.error(r.status); process.exit(1); } process.stdout.write(await r.text()); })`;
  const out = await lab.lab.execOk(lab.host(host).ns, process.execPath, ['-e', script], { timeoutMs: 30_000 });
  const values = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
  }
  return values;
}

function metric(values: Map<string, number>, key: string): number {
  const value = values.get(key);
  assert.notEqual(value, undefined, `no metric ${key} in ${[...values.keys()].filter((k) => k.startsWith('nebula_')).join(', ')}`);
  return value!;
}

/** Runs the mesh CLI in the host's namespace. */
function mesh(lab: OverlayLab, host: string, args: string[]) {
  return lab.lab.exec(lab.host(host).ns, process.execPath, [MESH_BIN, ...args], { timeoutMs: 60_000 });
}

async function status(lab: OverlayLab, host: string): Promise<StatusReport> {
  const r = await mesh(lab, host, ['status', '--json', '--config', lab.host(host).configPath]);
  assert.equal(r.code, 0, `mesh status on ${host}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusReport;
}

/** The default socket of a node in its own named network namespace: /run/mesh/netns-<name>/<tun>.sock. */
function socketOf(lab: OverlayLab, host: string): string {
  return `/run/mesh/netns-${lab.host(host).ns}/${lab.host(host).tunDev}.sock`;
}

test('mesh status and mesh ping on a lighthouse, a relay and two nodes: direct, then relayed', { timeout: 180_000 }, async (t) => {
  const reason = await labSkipReason({ commands: ['iptables'] });
  if (reason) return skipTest(t, reason);
  await withOverlayLab(t, { net: 40 }, async (lab) => {
    await lab.addHost('lh', { amLighthouse: true, tunDisabled: true, lighthouses: [] });
    await lab.addHost('r', { amRelay: true, tunDisabled: true, lighthouses: ['lh'] });
    // a takes ICMP only: anything else b sends it is a counted firewall drop.
    const icmpOnly = [{ port: 'any', proto: 'icmp', host: 'any' }];
    await lab.addHost('a', { lighthouses: ['lh'], relays: ['r'], groups: ['ops'], inbound: icmpOnly });
    await lab.addHost('b', { lighthouses: ['lh'], relays: ['r'], subnets: BEHIND_B, extra: FAST_TIMERS });
    lab.host('a').extra = { ...FAST_TIMERS, ...statsOn(lab, 'a') };
    lab.host('lh').extra = statsOn(lab, 'lh');
    for (const name of ['lh', 'r', 'a', 'b']) await lab.start(name);
    const [a, b] = [lab.host('a'), lab.host('b')];
    await lab.waitForPing('a', 'b', 30_000);

    // The socket: per network namespace and TUN device, 0600; `mesh status` run in a's namespace
    // with no --socket or --config finds a's node (and not another namespace's).
    assert.equal(statSync(socketOf(lab, 'a')).mode & 0o777, 0o600);
    assert.notEqual(socketOf(lab, 'a'), socketOf(lab, 'b'));
    const found = await mesh(lab, 'a', ['status', '--json']);
    assert.equal(found.code, 0, found.stderr);
    assert.equal((JSON.parse(found.stdout) as StatusReport).node.name, 'a');

    const sa = await status(lab, 'a');
    assert.equal(sa.node.name, 'a');
    assert.equal(sa.node.vpnIp, a.vpnIp);
    assert.deepEqual(sa.node.groups, ['ops']);
    assert.equal(sa.node.tun, a.tunDev);
    // The lab's CA (and so every certificate) lives 24 h: under 30 days, so status warns.
    assert.ok(sa.certificate.expiresInSeconds > 23 * 3600 && sa.certificate.expiresInSeconds <= 24 * 3600, JSON.stringify(sa.certificate));
    assert.equal(sa.certificate.warning, 'the certificate expires in 1 day');
    assert.deepEqual(
      sa.lighthouses.map((l) => [l.vpnIp, l.reachable, l.lastAnswer !== null]),
      [[lab.host('lh').vpnIp, true, true]],
    );
    assert.deepEqual(sa.relays.relays.map((r) => r.vpnIp), [lab.host('r').vpnIp]);
    const toB = sa.tunnels.find((x) => x.vpnIp === b.vpnIp);
    assert.ok(toB, `a has no tunnel to b: ${JSON.stringify(sa.tunnels)}`);
    assert.equal(toB.name, 'b');
    assert.equal(toB.path, 'direct');
    assert.equal(toB.remote, `${b.underlayIp}:4242`);
    assert.equal(toB.cipher, 'aes');
    assert.ok(toB.rx.packets > 0 && toB.tx.packets > 0 && toB.rx.bytes > toB.rx.packets, JSON.stringify(toB));

    const fromBDirect = (await status(lab, 'b')).tunnels.find((x) => x.vpnIp === a.vpnIp);
    assert.equal(fromBDirect?.path, 'direct', JSON.stringify(fromBDirect));
    assert.equal(fromBDirect?.remote, `${a.underlayIp}:4242`);

    // The human form names the peer and its path on one line.
    const text = await mesh(lab, 'a', ['status', '--socket', socketOf(lab, 'a')]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^b\\s+${b.vpnIp.replaceAll('.', '\\.')}\\s+${b.underlayIp.replaceAll('.', '\\.')}:4242\\s+direct\\s+aes`, 'm'));

    // The lighthouse reports its book.
    const sl = await status(lab, 'lh');
    assert.ok(sl.lighthouse && sl.lighthouse.hosts >= 3, JSON.stringify(sl.lighthouse));

    // mesh ping by name and by IP: each answer names the path.
    const byName = await mesh(lab, 'a', ['ping', 'b', '-c', '2', '--socket', socketOf(lab, 'a')]);
    assert.equal(byName.code, 0, byName.stdout + byName.stderr);
    assert.match(byName.stdout, new RegExp(`pong from b \\(${b.vpnIp.replaceAll('.', '\\.')}\\) via ${b.underlayIp.replaceAll('.', '\\.')}:4242 in [\\d.]+ ms`));
    assert.equal(byName.stdout.trim().split('\n').length, 2);
    const byIp = await mesh(lab, 'b', ['ping', a.vpnIp, '-c', '1', '--config', b.configPath]);
    assert.equal(byIp.code, 0, byIp.stdout + byIp.stderr);
    assert.ok((await status(lab, 'b')).tunnels.find((x) => x.vpnIp === a.vpnIp)?.lastRttMs !== null);
    // A host nobody answers for: exit 1 after the timeout.
    const nobody = await mesh(lab, 'a', ['ping', `172.31.${lab.net + 128}.99`, '-c', '1', '--timeout', '2', '--socket', socketOf(lab, 'a')]);
    assert.equal(nobody.code, 1, nobody.stdout + nobody.stderr);
    assert.match(nobody.stdout, /no answer from .* within 2 s/);
    // An unknown name is a user error.
    const unknown = await mesh(lab, 'a', ['ping', 'nosuchhost', '--socket', socketOf(lab, 'a')]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no tunnel to a host named "nosuchhost"/);

    // Prometheus: counters that move with the traffic.
    const before = await scrape(lab, 'a');
    assert.equal(metric(before, 'nebula_hostmap_main_hosts'), 3, 'tunnels to lh, r and b');
    assert.ok(metric(before, 'nebula_certificate_ttl_seconds') > 23 * 3600);
    assert.ok(metric(before, 'nebula_handshakes_total{result="completed"}') >= 3);
    assert.ok(metric(before, 'nebula_lighthouse_client_queries_total') >= 1);
    assert.ok(before.has('process_cpu_user_seconds_total') && before.has('nodejs_heap_size_used_bytes'), 'default process metrics');
    const ping = await lab.ping('b', 'a', 5, 1);
    assert.equal(ping.code, 0, ping.stdout);
    // UDP from b to a: a's inbound firewall takes ICMP only.
    const udp = `const s = require('node:dgram').createSocket('udp4'); let n = 0; const send = () => s.send('x', 9999, ${JSON.stringify(a.vpnIp)}, () => (++n < 3 ? send() : s.close())); send();`;
    await lab.lab.execOk(b.ns, process.execPath, ['-e', udp]);
    const after = await pollUntil(
      async () => {
        const values = await scrape(lab, 'a');
        return (values.get('nebula_dropped_total{reason="firewall-inbound"}') ?? 0) >= 3 ? values : undefined;
      },
      10_000,
      () => 'the firewall drops never showed in the metrics',
      200,
    );
    for (const key of ['nebula_packets_total{direction="rx"}', 'nebula_packets_total{direction="tx"}', 'nebula_bytes_total{direction="rx"}', 'nebula_bytes_total{direction="tx"}']) {
      assert.ok(metric(after, key) >= metric(before, key) + 5, `${key}: ${metric(before, key)} -> ${metric(after, key)}`);
    }
    assert.ok(metric(after, 'nebula_messages_total{direction="rx",type="message"}') >= metric(before, 'nebula_messages_total{direction="rx",type="message"}') + 8);
    assert.equal(metric(after, 'nebula_firewall_conntrack_count') >= 1, true);
    const lhMetrics = await scrape(lab, 'lh');
    assert.equal(metric(lhMetrics, 'nebula_lighthouse_hosts'), 3);
    assert.ok(metric(lhMetrics, 'nebula_lighthouse_queries_total') >= 1);
    // Only the configured path serves metrics; a reload moves it.
    await assert.rejects(scrape(lab, 'a', '/other'), /404/);
    lab.reconfigure('lh', { stats: { ...statsOn(lab, 'lh').stats, path: '/other' } });
    const statsReload = await mesh(lab, 'lh', ['reload', '--config', lab.host('lh').configPath]);
    assert.equal(statsReload.code, 0, statsReload.stderr);
    assert.equal(metric(await scrape(lab, 'lh', '/other'), 'nebula_lighthouse_hosts'), 3);
    await assert.rejects(scrape(lab, 'lh', '/metrics'), /404/);

    // Block the direct path between a and b: the tunnel dies and comes back through the relay.
    for (const [chain, dir] of [['OUTPUT', '-d'], ['INPUT', '-s']]) {
      await lab.lab.execOk(a.ns, 'iptables', ['-I', chain, dir, b.underlayIp, '-p', 'udp', '-j', 'DROP']);
    }
    const relayed = await pollUntil(
      async () => {
        await lab.ping('a', 'b');
        const tunnel = (await status(lab, 'a')).tunnels.find((x) => x.vpnIp === b.vpnIp);
        return tunnel?.path === 'relay' ? tunnel : undefined;
      },
      60_000,
      () => `a never reached b through the relay:\n${lab.logTail('a')}`,
      500,
    );
    assert.deepEqual(relayed.relay, { vpnIp: lab.host('r').vpnIp, name: 'r' });
    assert.equal(relayed.remote, null);
    const fromB = (await status(lab, 'b')).tunnels.find((x) => x.vpnIp === a.vpnIp);
    assert.equal(fromB?.path, 'relay', JSON.stringify(fromB));
    const viaRelay = await mesh(lab, 'a', ['ping', 'b', '-c', '1', '--socket', socketOf(lab, 'a')]);
    assert.equal(viaRelay.code, 0, viaRelay.stdout + viaRelay.stderr);
    assert.match(viaRelay.stdout, /pong from b \(.*\) via relay r in [\d.]+ ms/);

    // Relayed traffic still moves the counters.
    const relayedBefore = await scrape(lab, 'a');
    await lab.waitForPing('a', 'b');
    const relayedAfter = await scrape(lab, 'a');
    assert.ok(metric(relayedAfter, 'nebula_relay_sessions{role="terminal"}') >= 1);
    assert.ok(metric(relayedAfter, 'nebula_bytes_total{direction="tx"}') > metric(relayedBefore, 'nebula_bytes_total{direction="tx"}'));

    // SIGHUP adding an unsafe route via b: the kernel route appears and the network behind b answers, no restart.
    await lab.lab.execOk(b.ns, 'ip', ['addr', 'add', `${BEHIND_B_HOST}/32`, 'dev', 'lo']);
    const pingBehind = () => lab.lab.exec(a.ns, 'ping', ['-n', '-c', '1', '-W', '1', BEHIND_B_HOST], { timeoutMs: 5000 });
    assert.notEqual((await pingBehind()).code, 0, 'the network behind b is not reachable before the reload');
    const tunWith = (routes: { route: string; via: string }[]) => ({ tun: { disabled: false, dev: a.tunDev, mtu: 1300, unsafe_routes: routes } });
    lab.reconfigure('a', tunWith([{ route: BEHIND_B, via: b.vpnIp }]));
    const pid = a.proc!.pid;
    // A daemon keeps its memory off transparent huge pages (where THP is "always" they cost an idle node 2-4 MiB).
    for (const name of ['a', 'lh']) assert.match(readFileSync(`/proc/${lab.host(name).proc!.pid}/status`, 'utf8'), /^THP_enabled:\s+0$/m, name);
    a.proc!.kill('SIGHUP');
    await pollUntil(async () => (await pingBehind()).code === 0, 20_000, () => `${BEHIND_B_HOST} never answered after the reload:\n${lab.logTail('a')}`, 200);
    assert.match(await lab.lab.execOk(a.ns, 'ip', ['route', 'show', 'dev', a.tunDev]), /^10\.199\.40\.0\/24 /m);
    assert.equal(a.proc!.pid, pid);
    assert.equal(a.exit, undefined, 'a kept running');
    // `mesh reload` without the route: the kernel route goes too.
    lab.reconfigure('a', tunWith([]));
    const reloaded = await mesh(lab, 'a', ['reload', '--socket', socketOf(lab, 'a')]);
    assert.equal(reloaded.code, 0, reloaded.stderr);
    assert.doesNotMatch(await lab.lab.execOk(a.ns, 'ip', ['route', 'show', 'dev', a.tunDev]), /10\.199\.40\./);
    // A reload the node refuses (a route outside b's certificate is fine, one inside the overlay is not): exit 1, nothing changes.
    lab.reconfigure('a', tunWith([{ route: `172.31.${lab.net + 128}.0/25`, via: b.vpnIp }]));
    const refused = await mesh(lab, 'a', ['reload', '--socket', socketOf(lab, 'a')]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /overlaps the overlay network/);
    lab.reconfigure('a', tunWith([]));

    // Revocation: b's certificate revoked with `mesh ca revoke`, the list loaded into the lighthouse.
    const list = join(lab.dir, 'revocations.pem');
    const revoke = await mesh(lab, 'lh', ['ca', 'revoke', '--ca-crt', join(lab.dir, 'ca.crt'), '--ca-key', join(lab.dir, 'ca.key'), '--crt', b.certPath, '--out', list]);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(revoke.stdout, /^revoked b \([0-9a-f]{64}\); .* lists 1 certificate/);
    const lh = lab.host('lh');
    lab.reconfigure('lh', { pki: { ca: join(lab.dir, 'ca.crt'), cert: lh.certPath, key: lh.keyPath, revocations: list } });
    const t0 = Date.now();
    const lhReload = await mesh(lab, 'lh', ['reload', '--config', lh.configPath]);
    assert.equal(lhReload.code, 0, lhReload.stderr);
    await pollUntil(
      async () => !(await status(lab, 'a')).tunnels.some((x) => x.vpnIp === b.vpnIp) && (await lab.ping('a', 'b')).code !== 0,
      10_000,
      () => `b was not cut off from a within 10 s:\n${lab.logTail('a')}`,
      200,
    );
    t.diagnostic(`b cut off from a ${Date.now() - t0} ms after the lighthouse reloaded the revocation list`);
    await lab.waitForLog('a', /certificate revoked, closing its tunnel/);
    // b stays out: its new handshakes are refused (by a, by the relay, by the lighthouse).
    for (let i = 0; i < 3; i++) assert.notEqual((await lab.ping('b', 'a')).code, 0, 'b reached a after the revocation');
    assert.ok(!(await status(lab, 'a')).tunnels.some((x) => x.vpnIp === b.vpnIp));
    // The rest keeps working.
    await lab.waitForPing('a', 'lh');
    await lab.waitForPing('a', 'r');
    assert.ok((await status(lab, 'a')).tunnels.some((x) => x.vpnIp === lh.vpnIp));

    // The socket goes with the node.
    await lab.stop('b');
    assert.equal(existsSync(socketOf(lab, 'b')), false, 'socket left after SIGTERM');
  });
});

/** Sends `count` datagrams of 1200 bytes to host:port from a fresh socket, as fast as node can. */
function floodScript(host: string, port: number, count: number): string {
  return `const s = require('node:dgram').createSocket('udp4'); const b = Buffer.alloc(1200); let left = ${count};
    const next = () => { while (left > 0) { left--; s.send(b, ${port}, ${JSON.stringify(host)}); if (left % 500 === 0) return setImmediate(next); } s.close(); };
    s.bind(0, next);`;
}

test("drops a node's packet handling does not see: a stopped node's full socket and TUN queue (as ss and ip count them) and sends a firewall refuses, in its status and metrics", { timeout: 120_000 }, async (t) => {
  const reason = await labSkipReason({ commands: ['ss', 'iptables'] });
  if (reason) return skipTest(t, reason);
  await withOverlayLab(t, { net: 45 }, async (lab) => {
    await lab.addHost('a');
    await lab.addHost('b');
    lab.host('b').extra = statsOn(lab, 'b');
    for (const name of ['a', 'b']) await lab.start(name);
    const [a, b] = [lab.host('a'), lab.host('b')];
    await lab.waitForPing('a', 'b', 30_000);
    assert.deepEqual((await status(lab, 'b')).counters.kernel, { udpSocket: 0, tunQueue: 0, tunWrite: 0 });

    // While b is stopped, nothing reads its socket or its TUN device: a floods b's listen port
    // (20,000 datagrams, more than b's forced 8 MiB buffer holds) and a program in b's namespace
    // sends 3,000 datagrams into b's TUN (queue: 500).
    const pid = b.proc!.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      await lab.lab.execOk(a.ns, process.execPath, ['-e', floodScript(b.underlayIp, b.listenPort, 20_000)], { timeoutMs: 60_000 });
      await lab.lab.execOk(b.ns, process.execPath, ['-e', floodScript(a.vpnIp, 9, 3000)], { timeoutMs: 60_000 });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await lab.waitForPing('a', 'b', 30_000);

    // The referees: ss's skmem drops for b's socket, ip's TX dropped for b's TUN.
    const ss = await lab.lab.execOk(b.ns, 'ss', ['-H', '-u', '-a', '-n', '-m', `sport = :${b.listenPort}`]);
    const ssDrops = [...ss.matchAll(/\bd(\d+)\)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    const link = JSON.parse(await lab.lab.execOk(b.ns, 'ip', ['-j', '-s', 'link', 'show', 'dev', b.tunDev])) as { stats64: { tx: { dropped: number }; rx: { dropped: number } } }[];
    const kernel = (await status(lab, 'b')).counters.kernel;
    t.diagnostic(`b's kernel drops ${JSON.stringify(kernel)}; ss ${ssDrops}; ip tx ${link[0]!.stats64.tx.dropped}, rx ${link[0]!.stats64.rx.dropped}`);
    assert.ok(ssDrops >= 1000, `ss counted ${ssDrops} drops: ${ss}`);
    assert.equal(kernel.udpSocket, ssDrops);
    assert.ok(link[0]!.stats64.tx.dropped >= 1000, JSON.stringify(link));
    assert.equal(kernel.tunQueue, link[0]!.stats64.tx.dropped);
    assert.equal(kernel.tunWrite, link[0]!.stats64.rx.dropped);

    const metrics = await scrape(lab, 'b');
    assert.equal(metric(metrics, 'nebula_kernel_dropped_total{where="udp_socket"}'), kernel.udpSocket);
    assert.equal(metric(metrics, 'nebula_kernel_dropped_total{where="tun_queue"}'), kernel.tunQueue);
    const text = await mesh(lab, 'b', ['status', '--config', b.configPath]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^kernel drops: udp socket \\(receive buffer full\\) ${kernel.udpSocket}, tun queue \\(node fell behind\\) ${kernel.tunQueue}`, 'm'));
    // a read everything it was sent.
    assert.deepEqual((await status(lab, 'a')).counters.kernel, { udpSocket: 0, tunQueue: 0, tunWrite: 0 });

    // A firewall rule in b's namespace refuses b's datagrams to a: the kernel answers b's sends
    // with EPERM, which b counts as udp-send-error (a drop reason of its own).
    assert.equal((await status(lab, 'b')).counters.dropped['udp-send-error'], undefined);
    const rule = ['OUTPUT', '-d', a.underlayIp, '-p', 'udp', '-j', 'DROP'];
    await lab.lab.execOk(b.ns, 'iptables', ['-I', ...rule]);
    const refused = await pollUntil(
      async () => {
        await lab.ping('b', 'a');
        const n = (await status(lab, 'b')).counters.dropped['udp-send-error'] ?? 0;
        return n > 0 ? n : undefined;
      },
      20_000,
      () => `b never counted a refused send:\n${lab.logTail('b')}`,
      200,
    );
    await lab.lab.execOk(b.ns, 'iptables', ['-D', ...rule]);
    assert.ok(metric(await scrape(lab, 'b'), 'nebula_dropped_total{reason="udp-send-error"}') >= refused);
    assert.match((await mesh(lab, 'b', ['status', '--config', b.configPath])).stdout, /^drops: .*udp-send-error \d+/m);
    await lab.waitForPing('b', 'a', 30_000);
  });
});
