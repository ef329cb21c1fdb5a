import { Command } from 'commander';
import type { LevelWithSilent } from 'pino';
import type { DockerBridge } from '../docker/integration.js';
import { selectAead } from '../io/openssl-aead.js';
import { serviceNotifier } from '../io/systemd-notify.js';
import { openTun } from '../io/tun.js';
import { bindUdp, NativeUdpBind } from '../io/udp.js';
import { createLogger, type LogFormat, type Logger } from '../log.js';
import { loadConfig, type LoadedConfig } from '../node/config.js';
import { prepareNode } from '../node/node.js';
import { CertificateRenewal } from '../node/renewal.js';
import { systemTimers } from '../node/timers.js';
import { dockerHostOf, startMesh } from './assemble.js';

interface GlobalOptions {
  logFormat?: LogFormat;
  logLevel?: string;
  config: string;
  test?: boolean;
  dockerBridge?: string;
  dockerSubnet?: string;
  force?: boolean;
}

/** Nebula's level names (logrus) in pino's terms. */
export function pinoLevel(level: string): LevelWithSilent {
  if (level === 'warning') return 'warn';
  if (level === 'panic') return 'fatal';
  return level as LevelWithSilent;
}

export function loggerFor(loaded: LoadedConfig, opts: GlobalOptions): Promise<Logger> {
  const logging = loaded.config.logging;
  return createLogger({
    level: pinoLevel(opts.logLevel ?? logging.level),
    format: opts.logFormat ?? (process.stderr.isTTY ? undefined : logging.format),
  });
}

/**
 * Runs a node until SIGTERM/SIGINT. SIGHUP reloads the certificate, CA, blocklist and firewall;
 * a reload that fails is logged and the running configuration stays. Under systemd (`Type=notify`)
 * it reports READY=1 once the TUN is up and the UDP socket bound, RELOADING=1 / READY=1 around each
 * reload and STOPPING=1 when it begins to stop.
 */
export async function runNode(opts: GlobalOptions, overrides: (loaded: LoadedConfig) => void = () => {}): Promise<void> {
  const loaded = loadConfig(opts.config);
  overrides(loaded);
  const log = await loggerFor(loaded, opts);
  for (const warning of loaded.warnings) log.warn(`config: ${warning}`);
  if (opts.test) {
    await prepareNode(loaded.config);
    process.stdout.write(`${opts.config}: configuration is valid\n`);
    return;
  }
  // Signals are taken from the start: a SIGTERM while the node (or the Docker shim) is still
  // starting stops it cleanly once it is up, instead of killing the process half-way.
  let stopRequested: string | null = null;
  let requestStop = (signal: string) => {
    stopRequested ??= signal;
  };
  let reload = () => {};
  const onTerm = () => requestStop('SIGTERM');
  const onInt = () => requestStop('SIGINT');
  const onHup = () => reload();
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  try {
    // MESH_NATIVE_AEAD=0 keeps the transport AEAD on node:crypto (comparisons, a suspect addon).
    const aead = selectAead(process.env.MESH_NATIVE_AEAD !== '0');
    const notifier = serviceNotifier((message) => log.warn(message));
    const mesh = await startMesh(loaded.config, log, { openTun, bindUdp, aead });
    const node = mesh.node;
    if (node.udp instanceof NativeUdpBind) {
      // What the kernel granted (Linux reports twice the usable size): below the ask without root when net.core.rmem_max is lower.
      const { recvBufferSize, sendBufferSize } = node.udp.stats();
      log.info({ readBuffer: recvBufferSize, writeBuffer: sendBufferSize }, 'UDP socket buffers');
    }
    let docker: DockerBridge | null = null;
    if (opts.dockerBridge !== undefined) {
      try {
        const { startDockerBridge } = await import('../docker/integration.js');
        docker = await startDockerBridge(dockerHostOf(node), log, { network: opts.dockerBridge, subnet: opts.dockerSubnet, force: opts.force === true });
      } catch (err) {
        await mesh.stop();
        throw err;
      }
    }
    let renewal: CertificateRenewal | null = null;
    const reloadNow = () => {
      const next = loadConfig(opts.config);
      overrides(next);
      for (const warning of next.warnings) log.warn(`config: ${warning}`);
      node.reload(next.config);
      if (!opts.logLevel) log.level = pinoLevel(next.config.logging.level);
      renewal?.schedule();
    };
    // One reload at a time, each announced to the service manager before it starts.
    let reloads = Promise.resolve();
    reload = () => {
      reloads = reloads.then(async () => {
        await notifier.reloading();
        try {
          reloadNow();
        } catch (err) {
          log.error({ reason: err instanceof Error ? err.message : String(err) }, 'reload failed, keeping the running configuration');
        }
        await notifier.ready();
      });
    };
    if (loaded.config.enrollment.server !== '') {
      const { renewThroughService } = await import('./enroll-renew.js');
      renewal = new CertificateRenewal({
        timers: systemTimers,
        log,
        certificate: () => node.identity.cert,
        renew: () => renewThroughService(node.config, node.identity, reloadNow),
        renewBeforeMs: loaded.config.enrollment.renewBefore,
      });
      renewal.start();
    }
    await notifier.ready();
    let fault: Error | null = null;
    const signal = await new Promise<string>((resolve) => {
      requestStop = resolve;
      if (stopRequested) resolve(stopRequested);
      void node.failed.then((err) => {
        fault = err;
        resolve('fault');
      });
    });
    log.info({ signal }, 'shutting down');
    renewal?.stop();
    await notifier.stopping();
    await reloads;
    try {
      await docker?.stop();
    } catch (err) {
      log.error({ reason: (err as Error).message }, 'docker: error while removing the shim');
    }
    try {
      await mesh.stop();
    } catch (err) {
      log.error({ err }, 'error during shutdown');
    }
    if (fault) throw fault;
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
  }
}

export function nodeCommand(): Command {
  return new Command('node')
    .description('run a mesh node (takes a Nebula 1.6 config file as it is)')
    .requiredOption('-c, --config <path>', 'config file, or a directory of *.yml/*.yaml files merged in order')
    .option('-t, --test', 'run every check a start would run (config, certificates, static hosts), then exit')
    .option('--docker-bridge <network>', 'give the local Docker a bridge network of this name on the container subnet in the host certificate, and route the other hosts\' container subnets through the mesh')
    .option('--docker-subnet <cidr>', 'which of the certificate\'s subnets to use for --docker-bridge (default: the first)')
    .option('--force', 'with --docker-bridge: replace an unused Docker network of that name on another subnet')
    .action(async (_opts, command: Command) => {
      await runNode(command.optsWithGlobals<GlobalOptions>());
    });
}
