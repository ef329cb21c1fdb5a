/**
 * The local control socket (`control.socket`): a Unix socket, mode 0600, speaking JSON lines. Each
 * request is one line `{"command": "...", ...arguments}`; each gets one answer line, either
 * `{"ok": true, "result": ...}` or `{"ok": false, "error": "..."}`. Nothing of it is reachable over
 * the network. `mesh status`, `mesh ping` and `mesh reload` are its clients (src/cli/control-client.ts).
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { UserError } from '../errors.js';
import type { NodeConfig } from './config.js';

/** Where control sockets live unless `control.socket` says otherwise. */
export const CONTROL_DIR = '/run/mesh';

/** Where `ip netns add` keeps its named network namespaces. */
const NAMED_NETNS_DIR = '/run/netns';

/**
 * The name of the named network namespace this process runs in (what `ip netns identify` says),
 * or null in any other: the host's, or an unnamed one (a container's, which has its own /run).
 */
export function currentNetnsName(): string | null {
  try {
    const self = statSync('/proc/self/ns/net');
    for (const name of readdirSync(NAMED_NETNS_DIR)) {
      const named = statSync(join(NAMED_NETNS_DIR, name));
      if (named.ino === self.ino && named.dev === self.dev) return name;
    }
  } catch {
    // No /proc or no /run/netns: not in a named namespace.
  }
  return null;
}

/**
 * Where default control sockets live: /run/mesh, and /run/mesh/netns-<name> in a named network
 * namespace. /run is shared across `ip netns exec`, and two nodes in two namespaces may well use
 * the same TUN name; a `mesh status` run in a namespace finds that namespace's node.
 */
export function controlDir(netnsName: string | null = currentNetnsName()): string {
  return netnsName ? join(CONTROL_DIR, `netns-${netnsName}`) : CONTROL_DIR;
}

/** A request line longer than this is refused (the commands take a few short arguments). */
const MAX_REQUEST_BYTES = 64 * 1024;

export interface ControlRequest {
  command: string;
  [argument: string]: unknown;
}

/** One handler per command; a UserError thrown is the answer's error, anything else is logged too. */
export type ControlHandlers = Record<string, (request: ControlRequest) => unknown>;

export class ControlServer {
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  /**
   * Listens on `path`. A socket file left by a crashed node is replaced; one a running node answers
   * on is a UserError (two nodes on one socket).
   */
  static async start(path: string, handlers: ControlHandlers, log: Logger): Promise<ControlServer> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new UserError(`control.socket: ${path} exists and is not a socket`);
      if (await answers(path)) throw new UserError(`control.socket: ${path} is in use by another running node (set control.socket to run a second one)`);
      unlinkSync(path);
    }
    const server = createServer();
    const control = new ControlServer(path, server);
    server.on('connection', (socket) => control.serve(socket, handlers, log));
    // The umask makes the socket 0600 from its creation, not only after the chmod below. listen()
    // binds synchronously, so the umask is restored before anything else in the process runs.
    const umask = process.umask(0o177);
    let listening: Promise<void>;
    try {
      listening = new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    try {
      await listening;
    } catch (err) {
      throw new UserError(`control.socket: cannot listen on ${path}: ${(err as Error).message}`);
    }
    chmodSync(path, 0o600);
    return control;
  }

  private serve(socket: Socket, handlers: ControlHandlers, log: Logger): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    // Answers go out in request order even when a handler (ping) takes a while.
    let chain = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      if (buffered.length > MAX_REQUEST_BYTES) {
        socket.end(`${JSON.stringify({ ok: false, error: 'request too long' })}\n`);
        return;
      }
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() === '') continue;
        chain = chain.then(async () => {
          const reply = await answer(line, handlers, log);
          if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
        });
      }
    });
  }

  /** Stops listening, closes the open connections and removes the socket file. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone (removed by hand, or the server never created it).
    }
    // A namespace's directory goes with its last node (the namespace may be deleted next).
    if (basename(dirname(this.path)).startsWith('netns-') && dirname(dirname(this.path)) === CONTROL_DIR) {
      try {
        rmdirSync(dirname(this.path));
      } catch {
        // Another node of the namespace still has its socket there.
      }
    }
  }
}

async function answer(line: string, handlers: ControlHandlers, log: Logger): Promise<{ ok: true; result: unknown } | { ok: false; error: string }> {
  let request: ControlRequest;
  try {
    request = JSON.parse(line) as ControlRequest;
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  if (typeof request !== 'object' || request === null || typeof request.command !== 'string') return { ok: false, error: 'request has no "command"' };
  const handler = Object.hasOwn(handlers, request.command) ? handlers[request.command] : undefined;
  if (!handler) return { ok: false, error: `unknown command "${request.command}" (known: ${Object.keys(handlers).join(', ')})` };
  try {
    return { ok: true, result: (await handler(request)) ?? null };
  } catch (err) {
    if (!(err instanceof UserError)) log.error({ err, command: request.command }, 'control: command failed');
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Whether a node answers on the socket at `path` (false for a stale file left by a crash). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The socket a node listens on: `control.socket`, else one per TUN device in controlDir()
 * (`<dev>.sock`), else (tun.disabled, or a device name the kernel picks) one per config file.
 */
export function controlSocketPath(config: Pick<NodeConfig, 'control' | 'tun'>, configPath: string, tunName: string | null, dir = controlDir()): string {
  if (config.control.socket) return resolve(config.control.socket);
  if (tunName) return join(dir, `${tunName}.sock`);
  const absolute = resolve(configPath);
  const stem = basename(absolute).replace(/\.ya?ml$/, '').replace(/[^A-Za-z0-9_.-]/g, '_') || 'config';
  return join(dir, `${stem}-${createHash('sha256').update(absolute).digest('hex').slice(0, 8)}.sock`);
}
