/**
 * What a reload (SIGHUP, `mesh reload`) may change in a running node and how its TUN routes follow:
 * the keys only a restart applies keep their running values, and the kernel's routes are made to
 * match the new tun.routes and tun.unsafe_routes, all or nothing.
 */
import type { Logger } from 'pino';
import { UserError } from '../errors.js';
import type { TunDevice, TunRoute } from '../io/tun.js';
import { formatIpPrefix } from '../net/ip.js';
import { formatCidr } from '../net/ipv4.js';
import type { NodeConfig } from './config.js';

/** The keys a running node cannot change, by their config names. */
function restartOnlyValues(c: NodeConfig): Record<string, unknown> {
  return {
    'listen.host': c.listen.host,
    'listen.port': c.listen.port,
    'listen.batch': c.listen.batch,
    'listen.read_buffer': c.listen.readBuffer,
    'listen.write_buffer': c.listen.writeBuffer,
    'tun.dev': c.tun.dev,
    'tun.disabled': c.tun.disabled,
    'tun.mtu': c.tun.mtu,
    'tun.tx_queue': c.tun.txQueue,
    'tun.fast_path': c.tun.fastPath,
    cipher: c.cipher,
    'lighthouse.am_lighthouse': c.lighthouse.amLighthouse,
    'lighthouse.serve_dns': c.lighthouse.serveDns,
    'lighthouse.dns': c.lighthouse.dns,
    'stun.alternate_port': c.stun.alternatePort,
    'relay.am_relay': c.relay.amRelay,
    'control.socket': c.control.socket,
  };
}

/** `next` with the running values of the keys only a restart applies, and the names of those it changed. */
export function keepRestartOnlyKeys(running: NodeConfig, next: NodeConfig): { config: NodeConfig; changed: string[] } {
  const before = restartOnlyValues(running);
  const after = restartOnlyValues(next);
  const changed = Object.keys(before).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  const config: NodeConfig = {
    ...next,
    listen: running.listen,
    tun: { ...next.tun, dev: running.tun.dev, disabled: running.tun.disabled, mtu: running.tun.mtu, txQueue: running.tun.txQueue, fastPath: running.tun.fastPath },
    cipher: running.cipher,
    lighthouse: { ...next.lighthouse, amLighthouse: running.lighthouse.amLighthouse, serveDns: running.lighthouse.serveDns, dns: running.lighthouse.dns },
    stun: { ...next.stun, alternatePort: running.stun.alternatePort },
    relay: { ...next.relay, amRelay: running.relay.amRelay },
    control: running.control,
  };
  return { config, changed };
}

/** The TUN device's kernel routes: tun.routes and tun.unsafe_routes (mtu 0, not set, means the device MTU, as in Nebula). */
export function kernelRoutesOf(config: NodeConfig): TunRoute[] {
  return [
    ...config.tun.routes.map((r) => ({ cidr: r.route, mtu: r.mtu || undefined })),
    ...config.tun.unsafeRoutes.map((r) => ({ cidr: r.route, mtu: r.mtu || undefined, metric: r.metric })),
  ];
}

/**
 * Makes the TUN device's kernel routes match `wanted`: removes the ones no longer configured, adds
 * the new ones. When the kernel refuses one, what was done is undone and a UserError says so, so the
 * kernel's routes and mesh's routing table never disagree.
 */
export function syncKernelRoutes(tun: Pick<TunDevice, 'addRoute' | 'removeRoute'>, current: TunRoute[], wanted: TunRoute[], log: Logger): void {
  const key = (r: TunRoute) => `${'family' in r.cidr ? formatIpPrefix(r.cidr) : formatCidr(r.cidr)} mtu ${r.mtu ?? 0} metric ${r.metric ?? 0}`;
  const wantedKeys = new Set(wanted.map(key));
  const currentKeys = new Set(current.map(key));
  const undo: (() => void)[] = [];
  try {
    for (const route of current.filter((r) => !wantedKeys.has(key(r)))) {
      tun.removeRoute(route);
      undo.push(() => tun.addRoute(route));
      log.info({ route: key(route) }, 'route removed');
    }
    for (const route of wanted.filter((r) => !currentKeys.has(key(r)))) {
      tun.addRoute(route);
      undo.push(() => tun.removeRoute(route));
      log.info({ route: key(route) }, 'route added');
    }
  } catch (err) {
    for (const step of undo.reverse()) {
      try {
        step();
      } catch {
        // Best effort: the kernel refused to go back as well.
      }
    }
    throw new UserError(`tun: the kernel refused a route change (${(err as Error).message}); routes left as they were`);
  }
}
