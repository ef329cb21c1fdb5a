import { pino } from 'pino';
import type { Lighthouse } from '../../lighthouse/attach.js';
import { startMesh } from '../../src/cli/assemble.js';
import { MemoryNetwork, MemoryTun } from '../../src/io/memory.js';
import { parseConfig } from '../../src/node/config.js';
import type { MeshNode, NodeDeps } from '../../src/node/node.js';
import { nebulaConfig, type NodeConfigOptions } from '../../src/lab/configs.js';
import type { TestHost } from '../../src/lab/pki.js';

export interface MemoryNode {
  node: MeshNode;
  /** The address book, STUN and DNS when the config makes this node a lighthouse. */
  lighthouse: Lighthouse | null;
  /** Stops the lighthouse parts, then the node (what SIGTERM does). */
  stop(): Promise<void>;
  tun: MemoryTun;
  host: TestHost;
  address: string;
  port: number;
}

/** Logs go nowhere unless MESH_TEST_LOG names a level (e.g. MESH_TEST_LOG=debug npm test). */
export function testLogger(name: string) {
  return pino({ level: process.env.MESH_TEST_LOG ?? 'silent', base: { node: name } });
}

/** Fast timers so that retries, liveness checks and dead-peer removal happen within a test. */
export const FAST_TIMERS = {
  handshakes: { try_interval: '20ms', retries: 5 },
  timers: { connection_alive_interval: '300ms', pending_deletion_interval: '300ms' },
};

/** Starts a mesh node on an in-memory network, with a MemoryTun standing in for the kernel. */
export async function startMemoryNode(
  net: MemoryNetwork,
  host: TestHost,
  address: string,
  options: Partial<NodeConfigOptions> & { port?: number; networkInterfaces?: NodeDeps['networkInterfaces']; aead?: NodeDeps['aead'] } = {},
): Promise<MemoryNode> {
  const port = options.port ?? 4242;
  const raw = nebulaConfig({
    ca: host.ca,
    cert: host.certPem,
    key: host.keyPem,
    listen: { host: address, port },
    ...options,
    extra: { ...FAST_TIMERS, ...options.extra },
  });
  const { config } = parseConfig(raw, `${host.name}.yml`);
  let tun: MemoryTun | undefined;
  const mesh = await startMesh(config, testLogger(host.name), {
    openTun: (o) => (tun = new MemoryTun(o)),
    bindUdp: async (o) => net.bind(address, o.port),
    networkInterfaces: options.networkInterfaces,
    aead: options.aead,
  });
  return { node: mesh.node, lighthouse: mesh.lighthouse, stop: () => mesh.stop(), tun: tun!, host, address, port };
}

export function waitFor(predicate: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (predicate()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

/**
 * Resolves once packets injected into MemoryTuns so far have been read (inject delivers on the next
 * setImmediate) and every datagram they caused is delivered: then an absence is a fact, not a race.
 */
export async function settled(net: MemoryNetwork): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  await net.settle();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
