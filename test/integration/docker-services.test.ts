/**
 * Service names across hosts against real dockerd daemons (see src/lab/docker.ts): network aliases
 * and Compose services published through the lighthouse, `tasks.<name>.cluster`, and what Docker's
 * embedded DNS (127.0.0.11) answers itself versus forwards to the mesh.
 *
 *   lh  mesh lighthouse (TUN disabled)
 *   ha  api-a   --network-alias api                                     10.200.0.0/24
 *   hb  api-b   --network-alias api; later api-h (alias api, health check); leaves  10.200.1.0/24
 *   hc  shop-api-1 with Compose labels (project shop, service api)      10.200.2.0/24
 *   hd  client (no api replica, so glibc's same-subnet preference plays no part)  10.200.3.0/24
 *   hm  100 containers under 500 names (each its own and 4 aliases)        10.200.4.0/22
 *
 * The steps build on each other and run in order.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadCertificate } from '../../pki/keys.js';
import { formatIpNetwork } from '../../src/net/ip.js';
import { DockerLab, dockerSkipReason, IMAGE, NETWORK } from '../../src/lab/docker.js';
import { pollUntil } from '../../src/lab/wait.js';
import { skipOption } from '../helpers/skip.js';
import { labSteps } from '../helpers/lab-steps.js';

const API_A = '10.200.0.10';
const API_B = '10.200.1.10';
const API_H = '10.200.1.11';
const API_C = '10.200.2.10';
const CLIENT = '10.200.3.10';
const ALL = [API_A, API_B, API_C].sort();
/** Names on the busy host hm, and how many containers carry them (each its name and the rest as aliases). */
const MANY = 500;
const MANY_CONTAINERS = 100;
const COMPOSE_LABELS = ['--label', 'com.docker.compose.project=shop', '--label', 'com.docker.compose.service=api'];

const skip = skipOption(await dockerSkipReason());
if (skip) process.stdout.write(`# docker services tests skipped: ${skip}\n`);

describe('service names across hosts with real dockerd', { skip, timeout: 600_000 }, () => {
  let lab: DockerLab;

  const step = labSteps('docker', () => lab);

  /** The IPv4 addresses busybox nslookup printed for `name`, asked through Docker's embedded DNS (sorted), or null for no answer. */
  const lookup = async (host: string, container: string, name: string): Promise<string[]> => {
    const r = await lab.exec(host, container, ['nslookup', '-type=a', name]);
    const out = r.stdout.split(/\n\s*\n/).slice(1).join('\n'); // the first block names the server
    return [...out.matchAll(/^Address:\s*(\d+\.\d+\.\d+\.\d+)\s*$/gm)].map((m) => m[1]!).sort();
  };
  /** Waits until `check` returns null; it returns what it saw otherwise, for the timeout message. */
  const until = async (what: string, check: () => Promise<string | null>, timeoutMs = 20_000, intervalMs = 300) => {
    let last = '';
    await pollUntil(async () => {
      const seen = await check();
      if (seen === null) return true;
      last = seen;
      return false;
    }, timeoutMs, () => `${what}: not within ${timeoutMs} ms; last saw ${last}`, intervalMs);
  };
  const wget = (host: string, container: string, url: string) => lab.exec(host, container, ['timeout', '4', 'wget', '-q', '-O', '-', url]);

  before(
    step(async () => {
      // v2 certificates: every Docker host's container subnet is a v2 unsafeNetwork (issue 16).
      lab = DockerLab.create({ namePrefix: 'mds', certVersion: 2 });
      await lab.addHost('lh', { kind: 'lighthouse' });
      for (const h of ['ha', 'hb', 'hc', 'hd']) await lab.addHost(h, { kind: 'docker' });
      await lab.addHost('hm', { kind: 'docker', subnet: '10.200.4.0/22' });
      for (const h of ['ha', 'hb', 'hc', 'hd', 'hm']) {
        const { details } = loadCertificate(lab.host(h).certPath);
        assert.equal(details.version, 2, `${h}: a v2 certificate`);
        assert.deepEqual(details.unsafeNetworks.map(formatIpNetwork), [lab.host(h).subnet], `${h}: its container subnet as the v2 unsafeNetworks`);
      }
      await lab.start('lh');
      await Promise.all(['ha', 'hb', 'hc', 'hd'].map((h) => lab.startDockerd(h)));
      await Promise.all(['ha', 'hb', 'hc', 'hd'].map((h) => lab.start(h)));
      await lab.runContainer('ha', 'api-a', API_A, lab.httpdCommand(80, 'api-on-ha'), ['--network-alias', 'api']);
      await lab.runContainer('hb', 'api-b', API_B, lab.httpdCommand(80, 'api-on-hb'), ['--network-alias', 'api']);
      await lab.runContainer('hc', 'shop-api-1', API_C, lab.httpdCommand(80, 'api-on-hc'), COMPOSE_LABELS);
      await lab.runContainer('hd', 'client', CLIENT, ['sleep', '100000']);
    }),
  );

  after(async () => {
    await lab?.cleanup();
  });

  it(
    'tasks.api.cluster answers the aliased containers on two hosts and the Compose service on a third',
    step(async () => {
      await until('tasks.api.cluster from the client lists all three', async () => {
        const ips = await lookup('hd', 'client', `tasks.api.${NETWORK}`);
        return ips.join() === ALL.join() ? null : ips.join(', ');
      }, 30_000);
      // Docker knows no `api` on hd, so the plain names come to the mesh too; so does the Compose-qualified one.
      assert.deepEqual(await lookup('hd', 'client', `api.${NETWORK}`), ALL);
      assert.deepEqual(await lookup('hd', 'client', 'api'), ALL);
      assert.deepEqual(await lookup('hd', 'client', 'tasks.api'), ALL);
      assert.deepEqual(await lookup('hd', 'client', `api.shop.${NETWORK}`), [API_C]);
      assert.deepEqual(await lookup('hd', 'client', `shop-api-1.${NETWORK}`), [API_C]);
      assert.deepEqual(await lookup('hd', 'client', `tasks.nothere.${NETWORK}`), []);
      const unknown = await lab.exec('hd', 'client', ['nslookup', '-type=a', `tasks.nothere.${NETWORK}`]);
      assert.match(unknown.stdout + unknown.stderr, /NXDOMAIN/);
    }),
  );

  it(
    'Docker\'s embedded DNS answers names it has on its own host itself and forwards the rest (tasks.*, other hosts\' names)',
    step(async () => {
      // On ha, api-a carries the alias `api`: Docker answers `api` and `api.cluster` with the local replica only.
      assert.deepEqual(await lookup('ha', 'api-a', 'api'), [API_A]);
      assert.deepEqual(await lookup('ha', 'api-a', `api.${NETWORK}`), [API_A]);
      // tasks.api(.cluster) is no name Docker has without Swarm: it goes to the mesh, which answers every replica.
      assert.deepEqual(await lookup('ha', 'api-a', `tasks.api.${NETWORK}`), ALL);
      assert.deepEqual(await lookup('ha', 'api-a', 'tasks.api'), ALL);
      // A container on another host, by name: forwarded.
      assert.deepEqual(await lookup('ha', 'api-a', `api-b.${NETWORK}`), [API_B]);
      // On hc the Compose labels alone make no Docker alias: `api` is forwarded and answered with all of them.
      assert.deepEqual(await lookup('hc', 'shop-api-1', 'api'), ALL);
    }),
  );

  it(
    'HTTP requests to tasks.api.cluster reach every replica over a series of requests',
    step(async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 60 && seen.size < 3; i++) {
        const r = await wget('hd', 'client', `http://tasks.api.${NETWORK}/`);
        if (r.code === 0) seen.add(r.stdout.trim());
      }
      assert.deepEqual([...seen].sort(), ['api-on-ha', 'api-on-hb', 'api-on-hc']);
    }),
  );

  it(
    'stopping a replica removes it from the answers within seconds; starting it brings it back',
    step(async () => {
      await lab.dockerOk('hb', ['stop', '-t', '1', 'api-b']);
      const stopped = Date.now();
      // "Within seconds" is the bound of this wait; how long it took is reported, not asserted.
      await until('api-b leaves tasks.api.cluster', async () => {
        const ips = await lookup('hd', 'client', `tasks.api.${NETWORK}`);
        return ips.join() === [API_A, API_C].join() ? null : ips.join(', ');
      }, 20_000, 100);
      process.stdout.write(`# api-b left the answers ${Date.now() - stopped} ms after it stopped\n`);
      for (let i = 0; i < 6; i++) assert.notEqual((await wget('hd', 'client', `http://tasks.api.${NETWORK}/`)).stdout.trim(), 'api-on-hb');
      await lab.dockerOk('hb', ['start', 'api-b']);
      await until('api-b is back', async () => {
        const ips = await lookup('hd', 'client', `tasks.api.${NETWORK}`);
        return ips.join() === ALL.join() ? null : ips.join(', ');
      }, 20_000);
    }),
  );

  it(
    'a replica with a health check is answered only while it is healthy',
    step(async () => {
      await lab.runContainer('hb', 'api-h', API_H, lab.httpdCommand(80, 'api-h-on-hb'), [
        '--network-alias', 'api', '--health-cmd', 'cat /tmp/ready', '--health-interval', '1s', '--health-retries', '1',
      ]);
      await until('api-h is unhealthy', async () => {
        const status = await lab.dockerOk('hb', ['inspect', '-f', '{{.State.Health.Status}}', 'api-h']);
        return status === 'unhealthy' ? null : status;
      }, 20_000);
      assert.deepEqual(await lookup('hd', 'client', `tasks.api.${NETWORK}`), ALL, 'not answered while unhealthy');
      await lab.dockerOk('hb', ['exec', 'api-h', 'sh', '-c', 'echo ok > /tmp/ready']);
      await until('api-h joins tasks.api.cluster once healthy', async () => {
        const ips = await lookup('hd', 'client', `tasks.api.${NETWORK}`);
        return ips.join() === [...ALL, API_H].sort().join() ? null : ips.join(', ');
      }, 20_000);
    }),
  );

  it(
    'a host that leaves takes its names with it',
    step(async () => {
      assert.deepEqual(await lab.stop('hb'), { code: 0, signal: null });
      const left = Date.now();
      await until('hb\'s replicas leave tasks.api.cluster', async () => {
        const ips = await lookup('hd', 'client', `tasks.api.${NETWORK}`);
        return ips.join() === [API_A, API_C].join() ? null : ips.join(', ');
      }, 30_000);
      process.stdout.write(`# hb's names gone ${Date.now() - left} ms after its node stopped\n`);
      assert.deepEqual(await lookup('hd', 'client', `api-b.${NETWORK}`), []);
    }),
  );

  it(
    `a host with ${MANY_CONTAINERS} containers under ${MANY} names publishes them all`,
    step(async () => {
      await lab.startDockerd('hm');
      await lab.start('hm');
      const started = Date.now();
      // Names, not containers, fill the table's chunks (~1 KB each, about a dozen here): each container
      // carries five names, its own and four network aliases. A `docker run` takes ~0.8 s on the CI
      // machine whatever runs beside it (dockerd serialises much of the work), so 500 containers
      // took six minutes; the shim still inspects 100 new containers at once in batches.
      const perContainer = MANY / MANY_CONTAINERS;
      const queue = Array.from({ length: MANY_CONTAINERS }, (_, c) => c);
      await Promise.all(Array.from({ length: 4 }, async () => {
        for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
          const aliases = Array.from({ length: perContainer - 1 }, (_, k) => ['--network-alias', `many-${c * perContainer + k + 1}`]).flat();
          await lab.dockerOk('hm', ['run', '-d', '--pull', 'never', '--log-driver', 'none', '--name', `many-${c * perContainer}`, '--network', NETWORK, ...aliases, IMAGE, 'sleep', '100000'], 60_000);
        }
      }));
      process.stdout.write(`# ${MANY_CONTAINERS} containers (${MANY} names) started in ${Date.now() - started} ms\n`);
      // Every name resolves from another host: one shell loop in the client, printing the ones that do not.
      const script = `for i in $(seq 0 ${MANY - 1}); do nslookup -type=a many-$i.${NETWORK} 2>&1 | grep -q '^Address: *10\\.200\\.' || echo missing many-$i; done`;
      await until(`all ${MANY} names resolve from hd`, async () => {
        const r = await lab.exec('hd', 'client', ['sh', '-c', script], 300_000);
        return r.code === 0 && r.stdout.trim() === '' ? null : `${r.stdout.split('\n').length} missing, e.g. ${r.stdout.split('\n').slice(0, 5).join(' ')} ${r.stderr}`;
      }, 300_000, 5_000);
    }),
  );
});
