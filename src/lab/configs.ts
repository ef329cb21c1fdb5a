import { stringifyYaml } from '../yaml.js';

export interface FirewallRule {
  port: string | number;
  proto: string;
  host?: string;
  group?: string;
  groups?: string[];
  cidr?: string;
  /** Nebula 1.10+: our own address must be in it. */
  local_cidr?: string;
}

export interface NodeConfigOptions {
  ca: string;
  cert: string;
  key: string;
  /** offload: mesh's listen.offload (UDP GSO/GRO); default true, or false when MESH_LAB_OFFLOAD=0. */
  listen?: { host?: string; port?: number; offload?: boolean };
  staticHostMap?: Record<string, string[]>;
  lighthouses?: string[];
  amLighthouse?: boolean;
  /**
   * offload: mesh's tun.offload (virtio_net_hdr, TSO/USO); default true, or false when MESH_LAB_OFFLOAD=0.
   * ioUring: mesh's tun.io_uring; default true, or false when MESH_LAB_IO_URING=0.
   * fastPath: mesh's tun.fast_path; default true, or false when MESH_LAB_FAST_PATH=0 (any lab suite on the JS path alone).
   */
  tun?: { disabled?: boolean; dev?: string; mtu?: number; offload?: boolean; ioUring?: boolean; fastPath?: boolean; unsafe_routes?: { route: string; via: string; mtu?: number }[] };
  cipher?: 'aes' | 'chachapoly';
  inbound?: FirewallRule[];
  outbound?: FirewallRule[];
  punchy?: { punch?: boolean; respond?: boolean; delay?: string };
  relay?: { am_relay?: boolean; relays?: string[]; use_relays?: boolean };
  logLevel?: string;
  extra?: Record<string, unknown>;
}

export const ALLOW_ALL: FirewallRule[] = [{ port: 'any', proto: 'any', host: 'any' }];

/**
 * A mesh-only switch (on by default): as asked, else on unless the environment variable `env` is "0",
 * which runs any lab suite with it off. nebula ignores these keys; they are written only when off, so
 * that nebula's configs stay as they were.
 */
function meshSwitch(asked: boolean | undefined, env: 'MESH_LAB_OFFLOAD' | 'MESH_LAB_IO_URING' | 'MESH_LAB_FAST_PATH'): boolean {
  return asked ?? process.env[env] !== '0';
}

/** A Nebula 1.6 config, usable as it is by both `nebula -config` and `mesh node --config`. */
export function nebulaConfig(o: NodeConfigOptions): Record<string, unknown> {
  return {
    pki: { ca: o.ca, cert: o.cert, key: o.key },
    static_host_map: o.staticHostMap ?? {},
    lighthouse: { am_lighthouse: o.amLighthouse ?? false, interval: 60, hosts: o.lighthouses ?? [] },
    listen: { host: o.listen?.host ?? '0.0.0.0', port: o.listen?.port ?? 4242, ...(meshSwitch(o.listen?.offload, 'MESH_LAB_OFFLOAD') ? {} : { offload: false }) },
    punchy: { punch: o.punchy?.punch ?? false, respond: o.punchy?.respond ?? false, ...(o.punchy?.delay ? { delay: o.punchy.delay } : {}) },
    ...(o.relay ? { relay: o.relay } : {}),
    cipher: o.cipher ?? 'aes',
    tun: {
      disabled: o.tun?.disabled ?? false,
      dev: o.tun?.dev ?? 'mesh0',
      mtu: o.tun?.mtu ?? 1300,
      unsafe_routes: o.tun?.unsafe_routes ?? [],
      ...(meshSwitch(o.tun?.offload, 'MESH_LAB_OFFLOAD') ? {} : { offload: false }),
      ...(meshSwitch(o.tun?.ioUring, 'MESH_LAB_IO_URING') ? {} : { io_uring: false }),
      ...(meshSwitch(o.tun?.fastPath, 'MESH_LAB_FAST_PATH') ? {} : { fast_path: false }),
    },
    logging: { level: o.logLevel ?? 'info', format: 'text' },
    firewall: {
      conntrack: { tcp_timeout: '12m', udp_timeout: '3m', default_timeout: '10m' },
      outbound: o.outbound ?? ALLOW_ALL,
      inbound: o.inbound ?? ALLOW_ALL,
    },
    ...o.extra,
  };
}

export function nebulaConfigYaml(o: NodeConfigOptions): string {
  return stringifyYaml(nebulaConfig(o));
}
