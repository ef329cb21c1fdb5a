/**
 * `mesh node --docker-bridge cluster` against real dockerd daemons (root, dockerd, busybox-static;
 * else skipped with the reason). One lab for the whole file, see src/lab/docker.ts:
 *
 *   lh  mesh lighthouse (TUN disabled)                               10.42.0.1
 *   ha  dockerd + mesh node, group "web", containers 10.200.0.0/24   10.42.0.2   alpha (httpd :80)
 *   hb  dockerd + mesh node, containers 10.200.1.0/24                10.42.0.3   web (httpd :80), alt (httpd :8080)
 *       inbound firewall: tcp/80 only from group "web", tcp/8080 and icmp from anyone
 *   hc  dockerd + mesh node, no group, containers 10.200.2.0/24      10.42.0.4   gamma (httpd :80), joins later
 *   nb  nebula 1.6.1, tun.unsafe_routes 10.200.1.0/24 via hb         10.42.0.5
 *
 * The steps build on each other and run in order. A last suite has a lab of its own (one dockerd,
 * one container) for the cleanup after a dockerd that died before reaping its containerd-shims.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DockerLab, dockerSkipReason, IMAGE, NETWORK } from '../../src/lab/docker.js';
import { run } from '../../src/lab/netns.js';
import { eventually, within } from '../../src/lab/wait.js';
import { skipOption } from '../helpers/skip.js';
import { labSteps } from '../helpers/lab-steps.js';

const TAG = 'mesh-docker:';
const ALPHA = '10.200.0.10';
const WEB = '10.200.1.10';
const ALT = '10.200.1.11';
const GAMMA = '10.200.2.10';

const skip = skipOption(await dockerSkipReason({ nebula: true }));
if (skip) process.stdout.write(`# docker integration tests skipped: ${skip}\n`);

describe('mesh node --docker-bridge with real dockerd', { skip, timeout: 240_000 }, () => {
  let lab: DockerLab;

  const step = labSteps('docker', () => lab);

  const ping = (host: string, container: string, target: string) => lab.exec(host, container, ['ping', '-c', '1', '-W', '2', target]);
  // busybox-static's `wget -T` crashes (1.35, Debian 12): bound it with `timeout` instead.
  const wget = (host: string, container: string, url: string, timeoutSeconds = 4) => lab.exec(host, container, ['timeout', String(timeoutSeconds), 'wget', '-q', '-O', '-', url]);
  /** The client addresses busybox httpd logged ("ADDR:PORT: url:/") since `since`. */
  const clientsSeen = async (host: string, container: string, since: string) => {
    // The log line can reach `docker logs` a moment after the response (seen after a dockerd restart).
    const deadline = Date.now() + 5000;
    for (;;) {
      const r = await lab.docker(host, ['logs', '--since', since, container]);
      const seen = new Set([...(r.stdout + r.stderr).matchAll(/^\[?(?:::ffff:)?([\d.]+)\]?:\d+: url:/gm)].map((m) => m[1]!));
      if (seen.size > 0 || Date.now() >= deadline) return seen;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  /** Now, as `docker logs --since` takes it (Unix seconds with a fraction). */
  const nowSeconds = () => (Date.now() / 1000).toFixed(3);
  const taggedRules = async (host: string) => ({
    filter: (await lab.iptablesRules(host, 'filter', 'DOCKER-USER')).filter((l) => l.includes(TAG)),
    nat: (await lab.iptablesRules(host, 'nat', 'POSTROUTING')).filter((l) => l.includes(TAG)),
  });

  before(
    step(async () => {
      lab = DockerLab.create();
      await lab.addHost('lh', { kind: 'lighthouse' });
      await lab.addHost('ha', { kind: 'docker', groups: ['web'] });
      await lab.addHost('hb', {
        kind: 'docker',
        inbound: [
          { port: 80, proto: 'tcp', group: 'web' },
          { port: 8080, proto: 'tcp', host: 'any' },
          { port: 'any', proto: 'icmp', host: 'any' },
        ],
      });
      await lab.addHost('hc', { kind: 'docker' });
      await lab.addHost('nb', { kind: 'nebula', unsafeRoutes: [{ route: '10.200.1.0/24', via: '10.42.0.3' }] });
      assert.deepEqual(['ha', 'hb', 'hc'].map((h) => lab.host(h).subnet), ['10.200.0.0/24', '10.200.1.0/24', '10.200.2.0/24']);
      await lab.start('lh');
      await Promise.all(['ha', 'hb'].map((h) => lab.startDockerd(h)));
      await Promise.all(['ha', 'hb'].map((h) => lab.start(h)));
      await lab.runContainer('ha', 'alpha', ALPHA, lab.httpdCommand(80, 'alpha-on-ha'));
      await lab.runContainer('hb', 'web', WEB, lab.httpdCommand(80, 'web-on-hb'));
      await lab.runContainer('hb', 'alt', ALT, lab.httpdCommand(8080, 'alt-on-hb'));
    }),
  );

  after(async () => {
    await lab?.cleanup();
  });

  it(
    'containers on ha reach containers on hb by IP and by name; the server sees the client container\'s own IP',
    step(async () => {
      await eventually('ping alpha -> web by IP', () => ping('ha', 'alpha', WEB));
      await eventually('ping web -> alpha by IP', () => ping('hb', 'web', ALPHA));
      await eventually(`ping alpha -> web.${NETWORK}`, () => ping('ha', 'alpha', `web.${NETWORK}`));
      const since = nowSeconds();
      const page = await eventually(`wget alpha -> http://web.${NETWORK}/`, () => wget('ha', 'alpha', `http://web.${NETWORK}/`));
      assert.equal(page.stdout.trim(), 'web-on-hb');
      assert.deepEqual(await clientsSeen('hb', 'web', since), new Set([ALPHA]), 'web must see alpha\'s own address, not a masqueraded one');
      const back = await eventually(`wget web -> http://alpha.${NETWORK}/`, () => wget('hb', 'web', `http://alpha.${NETWORK}/`));
      assert.equal(back.stdout.trim(), 'alpha-on-ha');
      assert.deepEqual(await clientsSeen('ha', 'alpha', since), new Set([WEB]));
    }),
  );

  it(
    'a host that joins later (hc) is reachable from ha and hb without touching them',
    step(async () => {
      const untouched = { ha: lab.host('ha').proc!.pid, hb: lab.host('hb').proc!.pid };
      await lab.startDockerd('hc');
      await lab.start('hc');
      await lab.runContainer('hc', 'gamma', GAMMA, lab.httpdCommand(80, 'gamma-on-hc'));
      await eventually('ping alpha -> gamma by IP', () => ping('ha', 'alpha', GAMMA));
      const since = nowSeconds();
      const page = await eventually(`wget alpha -> http://gamma.${NETWORK}/`, () => wget('ha', 'alpha', `http://gamma.${NETWORK}/`));
      assert.equal(page.stdout.trim(), 'gamma-on-hc');
      assert.deepEqual(await clientsSeen('hc', 'gamma', since), new Set([ALPHA]));
      await eventually(`ping gamma -> web.${NETWORK}`, () => ping('hc', 'gamma', `web.${NETWORK}`));
      assert.deepEqual({ ha: lab.host('ha').proc!.pid, hb: lab.host('hb').proc!.pid }, untouched);
      assert.equal(lab.host('ha').exit, undefined);
      assert.equal(lab.host('hb').exit, undefined);
    }),
  );

  it(
    'hb\'s mesh firewall judges container traffic by the sending host\'s certificate: tcp/80 only from group "web"',
    step(async () => {
      // hc has no group: ICMP and tcp/8080 pass, tcp/80 does not.
      await eventually('ping gamma -> web', () => ping('hc', 'gamma', WEB));
      const alt = await eventually(`wget gamma -> http://alt.${NETWORK}:8080/`, () => wget('hc', 'gamma', `http://alt.${NETWORK}:8080/`));
      assert.equal(alt.stdout.trim(), 'alt-on-hb');
      const since = nowSeconds();
      const blocked = await wget('hc', 'gamma', `http://web.${NETWORK}/`, 3);
      assert.notEqual(blocked.code, 0, `gamma (hc, no group "web") reached web:80: ${blocked.stdout}`);
      // ha is in group "web": port 80 passes. web logs its clients in order, so once alpha's later
      // request is in the log, gamma's would be too had it got through.
      const allowed = await wget('ha', 'alpha', `http://web.${NETWORK}/`);
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.deepEqual(await clientsSeen('hb', 'web', since), new Set([ALPHA]), 'web saw alpha and not gamma');
    }),
  );

  it(
    'restarting the mesh node and restarting dockerd bring connectivity back, with the two rules once each',
    step(async () => {
      const once = { filter: 1, nat: 1 };
      const counts = async (h: string) => {
        const r = await taggedRules(h);
        return { filter: r.filter.length, nat: r.nat.length };
      };
      assert.deepEqual(await counts('hb'), once);

      assert.deepEqual(await lab.stop('hb'), { code: 0, signal: null });
      assert.deepEqual(await counts('hb'), { filter: 0, nat: 0 });
      await lab.start('hb');
      assert.deepEqual(await counts('hb'), once);
      let since = nowSeconds();
      await eventually('wget alpha -> web after the node restart', () => wget('ha', 'alpha', `http://web.${NETWORK}/`));
      assert.deepEqual(await clientsSeen('hb', 'web', since), new Set([ALPHA]));

      // dockerd goes away and comes back; the containers restart (--restart always) on their fixed IPs.
      await lab.stopDockerd('hb', { removeContainers: false });
      await lab.startDockerd('hb');
      await lab.waitForLog('hb', /docker: dockerd is gone/, 10_000);
      since = nowSeconds();
      await eventually('wget alpha -> web after the dockerd restart', () => wget('ha', 'alpha', `http://web.${NETWORK}/`), 30_000);
      assert.deepEqual(await clientsSeen('hb', 'web', since), new Set([ALPHA]));
      // hb's containers going out into the mesh must still keep their own address (not masqueraded).
      await eventually('wget web -> alpha after the dockerd restart', () => wget('hb', 'web', `http://alpha.${NETWORK}/`));
      assert.deepEqual(await clientsSeen('ha', 'alpha', since), new Set([WEB]));
      assert.deepEqual(await counts('hb'), once);
      const nat = await lab.iptablesRules('hb', 'nat', 'POSTROUTING');
      const ours = nat.findIndex((l) => l.includes(TAG));
      const masquerade = nat.findIndex((l) => l.includes('-s 10.200.1.0/24') && l.includes('MASQUERADE'));
      assert.ok(masquerade >= 0 && ours >= 0 && ours < masquerade, `the RETURN rule must come before Docker's MASQUERADE:\n${nat.join('\n')}`);
    }),
  );

  it(
    'stopping the node removes its rules and routes and nothing else',
    step(async () => {
      const hc = lab.host('hc');
      const before = await lab.iptablesSave('hc');
      assert.equal(before.filter((l) => l.includes(TAG)).length, 2, before.join('\n'));
      const routesBefore = await lab.lab.ip(hc.ns, 'route', 'show');
      assert.match(routesBefore, new RegExp(`10\\.200\\.0\\.0/16 dev ${hc.tunDev}`));

      assert.deepEqual(await lab.stop('hc'), { code: 0, signal: null });

      const afterStop = await lab.iptablesSave('hc');
      assert.deepEqual(afterStop, before.filter((l) => !l.includes(TAG)), 'only the two tagged rules may go');
      const routesAfter = await lab.lab.ip(hc.ns, 'route', 'show');
      assert.doesNotMatch(routesAfter, /10\.200\.0\.0\/16/);
      assert.match(routesAfter, /10\.200\.2\.0\/24 dev mesh-cluster/);
      assert.equal(await lab.dockerOk('hc', ['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', NETWORK]), '10.200.2.0/24');
      assert.equal(await lab.dockerOk('hc', ['inspect', '-f', '{{.State.Running}}', 'gamma']), 'true');
      const local = await lab.exec('hc', 'gamma', ['ping', '-c', '1', '-W', '2', '10.200.2.1']);
      assert.equal(local.code, 0, 'the container still reaches its gateway');
    }),
  );

  it(
    'a nebula 1.6.1 node with tun.unsafe_routes via hb reaches a container behind hb',
    step(async () => {
      await lab.start('nb');
      const nb = lab.host('nb');
      await eventually('ping nebula -> web', () => lab.lab.exec(nb.ns, 'ping', ['-n', '-c', '1', '-W', '2', WEB]));
      const since = nowSeconds();
      const page = await eventually('wget nebula -> alt:8080', () => lab.lab.exec(nb.ns, 'timeout', ['4', 'busybox', 'wget', '-q', '-O', '-', `http://${ALT}:8080/`]));
      assert.equal(page.stdout.trim(), 'alt-on-hb');
      assert.deepEqual(await clientsSeen('hb', 'alt', since), new Set([nb.vpnIp]));
    }),
  );
});

const cleanupSkip = skipOption(await dockerSkipReason());

describe('DockerLab cleanup after a dockerd that died', { skip: cleanupSkip, timeout: 120_000 }, () => {
  /** The running processes as `ps` sees them (zombies are dead: their parent reaps them). */
  const processes = async () =>
    (await run('ps', ['-eo', 'pid=,stat=,args='])).stdout
      .split('\n')
      .flatMap((l) => {
        const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(l);
        return m && !m[2]!.startsWith('Z') ? [{ pid: Number(m[1]), args: m[3]! }] : [];
      });

  it('stops the containerd-shim (and its container) that a SIGKILLed dockerd left behind', async () => {
    const lab = DockerLab.create({ namePrefix: 'mdc' });
    try {
      await lab.addHost('h', { kind: 'docker' });
      await lab.startDockerd('h');
      await lab.dockerOk('h', ['run', '-d', '--init', '--pull', 'never', '--network', 'none', '--name', 'idle', IMAGE, 'sleep', '600']);
      const containerPid = Number(await lab.dockerOk('h', ['inspect', '-f', '{{.State.Pid}}', 'idle']));
      const d = lab.host('h').dockerd!;
      // The goroutine dump containerd writes on SIGUSR1 goes to the lab's directory, which cleanup removes.
      const containerd = (await processes()).find((p) => p.args.includes(d.execRoot) && /^\S*containerd\s/.test(p.args));
      assert.ok(containerd, `no containerd naming ${d.execRoot}`);
      const tmpdir = readFileSync(`/proc/${containerd.pid}/environ`, 'latin1').split('\0').find((e) => e.startsWith('TMPDIR='));
      assert.equal(tmpdir, `TMPDIR=${join(lab.dir, 'h.tmp')}`);
      // What a dockerd killed before it reaped its shims leaves: the shim (reparented) and its container.
      const exited = once(d.proc, 'exit');
      d.proc.kill('SIGKILL');
      await within(exited, 10_000, 'dockerd exiting on SIGKILL');
      const orphaned = await processes();
      const shims = orphaned.filter((p) => p.args.includes(d.execRoot) && p.args.includes('containerd-shim'));
      assert.ok(shims.length > 0, `no containerd-shim naming ${d.execRoot} after dockerd died:\n${orphaned.map((p) => p.args).join('\n')}`);
      assert.ok(orphaned.some((p) => p.pid === containerPid), 'the container runs on after dockerd died');

      await lab.cleanup();

      const left = await processes();
      assert.deepEqual(left.filter((p) => p.args.includes(d.execRoot)).map((p) => `${p.pid} ${p.args}`), []);
      assert.deepEqual(left.filter((p) => p.pid === containerPid).map((p) => `${p.pid} ${p.args}`), [], 'the container\'s process is stopped');
    } finally {
      await lab.cleanup();
    }
  });
});
