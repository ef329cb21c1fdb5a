/**
 * The client side of the control socket (src/node/control.ts): finds the running node's socket and
 * sends it one JSON-line request. `mesh status`, `mesh ping` and `mesh reload` use it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { UserError } from '../errors.js';
import { controlDir, controlSocketPath, type ControlRequest } from '../node/control.js';

export interface SocketOptions {
  socket?: string;
  config?: string;
}

/** Adds --socket and --config, the two ways to name the node a command talks to. */
export function withSocketOptions(command: Command): Command {
  return command
    .addOption(new Option('-s, --socket <path>', "the node's control socket (default: the only one in /run/mesh, or in /run/mesh/netns-<name> in a named network namespace)"))
    .addOption(new Option('--config <path>', "the node's config file: its control.socket, or the default derived from it"));
}

/**
 * The socket to talk to: --socket, else the one the config names, else the only one in this network
 * namespace's controlDir(). The config's modules (and its YAML parser) load only for --config: they
 * stay out of the short-lived commands' start-up snapshot (src/cli/snapshot-tools.ts).
 */
export async function socketFor(opts: SocketOptions): Promise<string> {
  if (opts.socket) return opts.socket;
  if (opts.config) {
    const { loadConfig } = await import('../node/config.js');
    const { config } = loadConfig(opts.config);
    const dev = config.tun.disabled ? null : config.tun.dev || null;
    return controlSocketPath(config, opts.config, dev);
  }
  const dir = controlDir();
  const sockets = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.sock')) : [];
  if (sockets.length === 1) return join(dir, sockets[0]!);
  if (sockets.length === 0) throw new UserError(`no running node found (no control socket in ${dir}); is \`mesh node\` running? Otherwise pass --socket or --config`);
  throw new UserError(`several nodes run here (${sockets.join(', ')} in ${dir}): pick one with --socket or --config`);
}

/** Sends one request and returns the node's result; a refusal or a dead socket is a UserError. */
export function controlRequest(path: string, request: ControlRequest, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    const fail = (message: string) => {
      socket.destroy();
      reject(new UserError(message));
    };
    socket.setTimeout(timeoutMs, () => fail(`the node on ${path} did not answer within ${timeoutMs / 1000} s`));
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no node is running there' : err.code === 'EACCES' ? 'permission denied (the socket is for the user running the node)' : err.message;
      fail(`cannot reach the node's control socket ${path}: ${why}`);
    });
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      socket.end();
      let answer: { ok: boolean; result?: unknown; error?: string };
      try {
        answer = JSON.parse(buffered.slice(0, newline)) as typeof answer;
      } catch {
        reject(new Error(`the node on ${path} sent an answer that is not JSON`));
        return;
      }
      if (answer.ok) resolve(answer.result);
      else reject(new UserError(answer.error ?? 'the node refused the request'));
    });
    socket.once('end', () => {
      if (!buffered.includes('\n')) fail(`the node on ${path} closed the connection without answering`);
    });
  });
}
