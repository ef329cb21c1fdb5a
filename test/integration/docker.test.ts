/**
 * `mesh node --docker-bridge cluster` against real dockerd daemons (root, dockerd, busybox-static;
 * else skipped with the reason). One lab for the whole file, see test/helpers/docker-lab.ts:
 *
 *   lh  mesh lighthouse (TUN disabled)                               10.42.0.1
 *   ha  dockerd + mesh node, group "web", containers 10.200.0.0/24   10.42.0.2   alpha (httpd :80)
 *   hb  dockerd + mesh node, containers 10.200.1.0/24                10.42.0.3   web (httpd :80), alt (httpd :8080)
 *       inbound firewall: tcp/80 only from group "web", tcp/8080 and icmp from anyone
 *   hc  dockerd + mesh node, no group, containers 10.200.2.0/24      10.42.0.4   gamma (httpd :80), joins later
 *   nb  nebula 1.6.1, tun.unsafe_routes 10.200.1.0/24 via hb         10.42.0.5
 *
 * The steps build on each other and run in order.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DockerLab, dockerSkipReason, NETWORK } from '../helpers/docker-lab.js';
import { sleep } from '../helpers/overlay-lab.js';
import type { ExecResult } from '../helpers/netns.js';

const TAG = 'mesh-docker:';
const ALPHA = '10.200.0.10';
const WEB = '10.200.1.10';
const ALT = '10.200.1.11';
const GAMMA = '10.200.2.10';

const skip = await dockerSkipReason({ nebula: true });
if (skip) process.stdout.write(`# docker integration tests skipped: ${skip}\n`);

/** Retries `attempt` until it returns a result with exit code 0. */
async function eventually(what: string, attempt: () => Promise<ExecResult>, timeoutMs = 20_000): Promise<ExecResult> {
  const deadline = Date.now() + timeoutMs;
  let last: ExecResult;
  do {
    last = await attempt();
    if (last.code === 0) return last;
    await sleep(300);
  } while (Date.now() < deadline);
  throw new Error(`${what}: no success within ${timeoutMs} ms (exit ${last.code ?? last.signal}): ${last.stdout.trim()} ${last.stderr.trim()}`);
}

describe('mesh node --docker-bridge with real dockerd', { skip, timeout: 240_000 }, () => {
  let lab: DockerLab;
  let failed = false;

  /** Runs a step; on failure prints every node's and dockerd's log tail before rethrowing. */
  const step = (fn: () => Promise<void>) => async () => {
    try {
      await fn();
    } catch (err) {
      if (!failed) process.stderr.write(`\n=== docker lab ${lab?.lab.id} logs ===\n${lab?.allLogTails() ?? ''}\n=== end of logs ===\n`);
      failed = true;
      throw err;
    }
  };

  const ping = (host: string, container: string, target: string) => lab.exec(host, container, ['ping', '-c', '1', '-W', '2', target]);
  const wget = (host: string, container: string, url: string, timeoutSeconds = 3) => lab.exec(host, container, ['wget', '-q', '-O', '-', '-T', String(timeoutSeconds), url]);
  const containerLogs = async (host: string, container: string) => {
    const r = await lab.docker(host, ['logs', container]);
    return r.stdout + r.stderr;
  };
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
      await lab.startNode('lh');
      await Promise.all(['ha', 'hb'].map((h) => lab.startDockerd(h)));
      await Promise.all(['ha', 'hb'].map((h) => lab.startNode(h)));
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
      const page = await eventually(`wget alpha -> http://web.${NETWORK}/`, () => wget('ha', 'alpha', `http://web.${NETWORK}/?from=alpha-first`));
      assert.equal(page.stdout.trim(), 'web-on-hb');
      const logs = await containerLogs('hb', 'web');
      assert.match(logs, new RegExp(`${ALPHA.replaceAll('.', '\\.')}.*from=alpha-first|from=alpha-first[\\s\\S]*${ALPHA.replaceAll('.', '\\.')}`), `web's httpd log does not show alpha's address ${ALPHA}:\n${logs}`);
    }),
  );
});
