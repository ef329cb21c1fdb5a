/**
 * A TCP port on this machine's loopback that leads to a TCP address inside a lab namespace, so a
 * person can open something a lab serves (the demo's map) without creating anything in the root
 * namespace. Unix sockets are not bound to a network namespace: a small relay runs inside the
 * namespace (`ip netns exec NS node port-forward.js SOCKET HOST PORT`, a lab process stopped by PID
 * with the lab) and connects each Unix connection to HOST:PORT there; this process listens on
 * 127.0.0.1 and pipes each TCP connection to the Unix socket.
 */
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetnsLab } from './netns.js';
import { within } from './wait.js';

export interface PortForward {
  /** The port on 127.0.0.1. */
  port: number;
  close(): Promise<void>;
}

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}

/**
 * 127.0.0.1:`listenPort` (0: any free port) → `target` inside `ns`. The Unix socket goes in `dir`
 * (the lab's directory, removed with the lab).
 */
export async function forwardIntoNamespace(lab: NetnsLab, dir: string, ns: string, target: { host: string; port: number }, listenPort = 0): Promise<PortForward> {
  const socketPath = join(dir, `forward-${ns}-${target.port}-${listenPort}.sock`);
  const relay = lab.spawn(ns, process.execPath, [fileURLToPath(import.meta.url), socketPath, target.host, String(target.port)]);
  let server: Server | null = null;
  const clients = new Set<Socket>();
  try {
    const [line] = (await within(Promise.race([once(relay.stdout!, 'data'), once(relay, 'exit').then(() => [Buffer.from('')])]), 10_000, `the relay in ${ns} starting`)) as Buffer[];
    if (!String(line).startsWith('ready')) throw new Error(`the relay in ${ns} did not start`);
    server = createServer((client) => {
      clients.add(client);
      client.on('close', () => clients.delete(client));
      pipeBoth(client, connect(socketPath));
    });
    server.listen(listenPort, '127.0.0.1');
    await within(once(server, 'listening'), 10_000, 'the forwarding listener');
  } catch (err) {
    relay.kill('SIGKILL');
    await rm(socketPath, { force: true });
    throw err;
  }
  const listening = server;
  return {
    port: (listening.address() as { port: number }).port,
    async close() {
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => listening.close(() => resolve()));
      if (relay.exitCode === null) relay.kill('SIGTERM');
      await rm(socketPath, { force: true });
    },
  };
}

/** The relay inside the namespace: each connection on the Unix socket goes to HOST:PORT. */
function relayMain(socketPath: string, host: string, port: number): void {
  const server = createServer((local) => pipeBoth(local, connect(port, host)));
  server.listen(socketPath, () => process.stdout.write('ready\n'));
  // The lab stops it by PID; if the demo dies without cleaning up, the closed stdin says so.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [socketPath, host, port] = process.argv.slice(2);
  relayMain(socketPath!, host!, Number(port));
}
