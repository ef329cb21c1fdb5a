/**
 * `npm run demo` (as root): the mesh overlay in network namespaces, in three acts.
 *
 *   tunnel  two mesh nodes on a shared underlay: ping, then 20 MiB over TCP checked with SHA-256
 *   nat     two hosts behind home routers find each other through `mesh lighthouse` and punch through
 *   docker  two Docker hosts (`mesh node --docker-bridge cluster`): a container fetches http://web.cluster/
 *           from a container on the other host (namespaces stand in for containers where dockerd cannot run)
 *
 * `npm run demo -- --map` runs the nat act with a relay, a host behind a symmetric NAT and the
 * lighthouse's live map, and keeps that lab running with the map on 127.0.0.1 until Ctrl-C.
 * `npm run demo -- --only nat|docker|tunnel` runs one act; `--without-dockerd` shows the docker act's
 * namespace fallback even where Docker works. Each act removes everything it made (processes,
 * namespaces with their interfaces, dockerd directories, temp files), also on failure and on Ctrl-C.
 */
import { parseArgs } from 'node:util';
import { netnsSkipReason } from '../src/lab/netns.js';
import { dockerAct } from './demo/docker.js';
import type { ActResult, DemoIO } from './demo/io.js';
import { natAct } from './demo/nat.js';
import { tunnelAct } from './demo/tunnel.js';

/** Starts every namespace (and dockerd directory) the demo creates. */
const NAME_PREFIX = 'mdm';
const ACTS = ['tunnel', 'nat', 'docker'] as const;
type ActName = (typeof ACTS)[number];

const TITLES: Record<ActName, string> = {
  tunnel: 'two mesh nodes talking over an encrypted overlay, each in its own network namespace',
  nat: 'two hosts behind NAT routers meet through a lighthouse and punch through to talk directly',
  docker: 'containers on two Docker hosts reach each other through the mesh, by name and by IP',
};

function usage(message: string): number {
  process.stderr.write(`${message}\nusage: npm run demo -- [--only tunnel|nat|docker] [--without-dockerd] [--map]\n`);
  return 2;
}

async function main(): Promise<number> {
  let only: string | undefined;
  let withoutDockerd: boolean;
  let map: boolean;
  try {
    const { values } = parseArgs({ options: { only: { type: 'string' }, 'without-dockerd': { type: 'boolean', default: false }, map: { type: 'boolean', default: false } } });
    only = values.only;
    withoutDockerd = values['without-dockerd'] ?? false;
    map = values.map ?? false;
  } catch (err) {
    return usage((err as Error).message);
  }
  if (only !== undefined && !(ACTS as readonly string[]).includes(only)) return usage(`unknown act "${only}"`);
  if (map && only !== undefined && only !== 'nat') return usage('--map shows the nat act\'s lab: it goes with --only nat or alone');
  if (map) only = 'nat';
  const acts = only === undefined ? [...ACTS] : [only as ActName];

  process.stdout.write(`mesh demo: ${acts.length === 1 ? 'one act' : `${acts.length} acts`} (${acts.join(', ')}), each in network namespaces it creates and removes\n`);
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      '\nThis demo needs root: it creates network namespaces, bridges, veth pairs, TUN devices and iptables rules.\n' +
        'Run it as root, e.g. `sudo npm run demo`. Nothing was changed.\n',
    );
    return 1;
  }
  const reason = netnsSkipReason();
  if (reason) {
    process.stderr.write(`\nThis demo cannot run here: ${reason}. Nothing was changed.\n`);
    return 1;
  }

  let interruptCleanup: (() => Promise<void>) | undefined;
  /** Set on Ctrl-C / SIGTERM: the running act's cleanup, after which the demo exits. */
  let interruption: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interruption) return;
    process.stdout.write(`\n${signal} received, cleaning up...\n`);
    interruption = (interruptCleanup?.() ?? Promise.resolve()).catch((err: unknown) => {
      process.stderr.write(`cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
    });
    void interruption.then(() => {
      process.stdout.write('Interrupted; everything the demo created has been removed.\n');
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const t0 = Date.now();
  const summary: string[] = [];
  let failed = false;
  for (const [i, act] of acts.entries()) {
    process.stdout.write(`\n######## Act ${i + 1}: ${act}: ${TITLES[act]}\n`);
    const io: DemoIO = {
      say: (message) => process.stdout.write(`  ${message}\n`),
      step: (title) => process.stdout.write(`\n== [${act}] ${title}\n`),
      onInterrupt: (cleanup) => (interruptCleanup = cleanup),
      diagnose: (text) => {
        if (!interruption) process.stderr.write(`\n${text}\n`);
      },
    };
    const started = Date.now();
    let result: ActResult;
    try {
      result =
        act === 'tunnel' ? await tunnelAct(io, NAME_PREFIX) : act === 'nat' ? await natAct(io, NAME_PREFIX, { map }) : await dockerAct(io, NAME_PREFIX, { withoutDockerd });
    } catch (err) {
      // Ctrl-C makes the running act fail: that is no failure to report.
      if (interruption) break;
      process.stderr.write(`\nAct "${act}" failed: ${err instanceof Error ? err.message : String(err)}\n`);
      summary.push(`${act}: FAILED`);
      failed = true;
      continue;
    } finally {
      interruptCleanup = undefined;
    }
    if (interruption) break;
    if (result.ran) {
      summary.push(`${act}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } else {
      process.stdout.write(`  Act "${act}" cannot run here: ${result.reason}. Nothing was changed.\n`);
      summary.push(`${act}: skipped (${result.reason})`);
    }
  }
  if (interruption) {
    await interruption;
    return 130;
  }
  process.stdout.write(`\nDemo ${failed ? 'finished with failures' : 'finished'} in ${((Date.now() - t0) / 1000).toFixed(1)} s; everything it created has been removed.\n`);
  for (const line of summary) process.stdout.write(`  ${line}\n`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
