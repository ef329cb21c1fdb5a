import { Command } from 'commander';
import type { LevelWithSilent } from 'pino';
import type { DockerBridge } from '../docker/integration.js';
import { selectAead } from '../io/openssl-aead.js';
import { serviceNotifier } from '../io/systemd-notify.js';
import { createFastPath, disableHugePages, releaseMemory } from '../io/native.js';
import { openTun } from '../io/tun.js';
import { bindUdp, NativeUdpBind } from '../io/udp.js';
import { createLogger, type LogFormat, type Logger } from '../log.js';
import { endpointKey } from '../net/endpoint.js';
import { formatCidr } from '../net/ipv4.js';
import { formatVpnAddr, type VpnAddr } from '../net/ip.js';
import { loadConfig, type LoadedConfig } from '../node/config.js';
import { ControlServer, controlSocketPath, type ControlHandlers } from '../node/control.js';
import { MetricsServer } from '../node/metrics.js';
import { prepareNode } from '../node/node.js';
import { CertificateRenewal } from '../node/renewal.js';
import { nodeStatus, peerAddress } from '../node/status.js';
import { systemTimers } from '../node/timers.js';
import { MemorySettler } from './memory-settler.js';
import { dockerHostOf, startMesh, type Mesh } from './assemble.js';
import type { PingAnswer } from './ping.js';
import type { DockerStatus, StatusReport } from './status.js';

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
    timestamp: !logging.disableTimestamp,
  });
}

/**
 * Runs a node until SIGTERM/SIGINT, with its control socket. SIGHUP (or `mesh reload`) reloads the
 * certificate, CA, blocklist and firewall; a reload that fails is logged (and answered) and the
 * running configuration stays. Under systemd (`Type=notify`) it reports READY=1 once the TUN is up
 * and the UDP socket bound, RELOADING=1 / READY=1 around each reload and STOPPING=1 when it begins
 * to stop.
 */
export async function runNode(opts: GlobalOptions, overrides: (loaded: LoadedConfig) => void = () => {}): Promise<void> {
  disableHugePages();
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
    const mesh = await startMesh(loaded.config, log, { openTun, bindUdp, aead, fastPath: createFastPath });
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
    const settler = new MemorySettler(() => node.activity(), systemTimers, releaseMemory);
    let metrics: MetricsServer | null = null;
    /** The exporter `stats` asks for, replaced when the section changed. */
    const applyStats = async (stats: LoadedConfig['config']['stats']) => {
      if (JSON.stringify(stats) === JSON.stringify(metrics?.config ?? null)) return;
      await metrics?.stop();
      metrics = null;
      try {
        metrics = await MetricsServer.start(stats, node, mesh.lighthouse?.metrics ?? [], log);
      } catch (err) {
        log.error({ reason: (err as Error).message }, 'stats: cannot serve metrics with the new settings, metrics are off until the next reload');
      }
    };
    // Each reload is announced to the service manager (RELOADING=1, then READY=1 whatever the outcome).
    const applyConfig = async () => {
      await notifier.reloading();
      try {
        const next = loadConfig(opts.config);
        overrides(next);
        for (const warning of next.warnings) log.warn(`config: ${warning}`);
        await node.reload(next.config);
        if (!opts.logLevel) log.level = pinoLevel(next.config.logging.level);
        await applyStats(node.config.stats);
        renewal?.schedule();
      } catch (err) {
        log.error({ reason: err instanceof Error ? err.message : String(err) }, 'reload failed, keeping the running configuration');
        throw err;
      } finally {
        settler.arm();
        await notifier.ready();
      }
    };
    // Reloads run one after the other (a SIGHUP during a `mesh reload`, say).
    let reloading: Promise<void> = Promise.resolve();
    const reloadNow = () => {
      const run = reloading.then(applyConfig);
      reloading = run.catch(() => {});
      return run;
    };
    reload = () => {
      // A failure is logged by applyConfig.
      reloadNow().catch(() => {});
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
    const dockerStatus = opts.dockerBridge === undefined ? undefined : (): DockerStatus => dockerStatusOf(mesh, opts.dockerBridge!, opts.dockerSubnet);
    let control: ControlServer | null = null;
    try {
      const socketPath = controlSocketPath(node.config, opts.config, node.config.tun.disabled ? null : node.tun.name);
      control = await ControlServer.start(socketPath, controlHandlers(mesh, reloadNow, dockerStatus), log);
      log.info({ socket: socketPath }, 'control socket listening');
      metrics = await MetricsServer.start(node.config.stats, node, mesh.lighthouse?.metrics ?? [], log);
    } catch (err) {
      renewal?.stop();
      await control?.stop();
      await docker?.stop();
      await mesh.stop();
      throw err;
    }
    settler.arm();
    // STUN's first load (at the node's first quiet moment) leaves garbage of its own.
    void node.nat.codecLoaded.then(() => settler.arm());
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
    await reloading;
    // After the last reload, which arms it.
    settler.stop();
    await control?.stop();
    await metrics?.stop();
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

/** What the control socket answers: `mesh status`, `mesh ping`, `mesh reload`. */
function controlHandlers(mesh: Mesh, reloadNow: () => Promise<void>, dockerStatus?: () => DockerStatus): ControlHandlers {
  const node = mesh.node;
  return {
    status: (): StatusReport => ({
      ...nodeStatus(node),
      ...(mesh.lighthouse ? { lighthouse: mesh.lighthouse.status() } : {}),
      ...(dockerStatus ? { docker: dockerStatus() } : {}),
    }),
    ping: async (request): Promise<PingAnswer> => {
      const target = String(request.target ?? '');
      const timeoutMs = typeof request.timeoutMs === 'number' && request.timeoutMs > 0 ? Math.min(request.timeoutMs, 60_000) : 5000;
      const vpnIp = peerAddress(node, target);
      const result = await node.probe(vpnIp, timeoutMs);
      const nameOf = (ip: VpnAddr) => node.hostmap.get(ip)?.cert?.details.name ?? null;
      return {
        vpnIp: formatVpnAddr(vpnIp),
        name: nameOf(vpnIp),
        rttMs: result ? result.rttMs : null,
        path: result ? (result.remote ? 'direct' : 'relay') : null,
        remote: result?.remote ? endpointKey(result.remote) : null,
        relay: result?.relay != null ? { vpnIp: formatVpnAddr(result.relay), name: nameOf(result.relay) } : null,
      };
    },
    reload: async () => {
      await reloadNow();
      return { reloaded: true };
    },
  };
}

function dockerStatusOf(mesh: Mesh, network: string, subnet: string | undefined): DockerStatus {
  const host = dockerHostOf(mesh.node);
  return {
    network,
    subnet: subnet ?? (host.certSubnets[0] ? formatCidr(host.certSubnets[0]) : ''),
    names: mesh.node.names.publishedNames.map((n) => n.name),
  };
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
