/** `mesh ping`: Nebula Test messages through the running node's tunnel, like `tailscale ping`. */
import { Command, InvalidArgumentError } from 'commander';
import { controlRequest, socketFor, withSocketOptions, type SocketOptions } from './control-client.js';

/** One answer of the node's `ping` command. */
export interface PingAnswer {
  vpnIp: string;
  name: string | null;
  /** null when no reply came within the timeout. */
  rttMs: number | null;
  path: 'direct' | 'relay' | null;
  remote: string | null;
  relay: { vpnIp: string; name: string | null } | null;
}

export function pingCommand(): Command {
  return withSocketOptions(new Command('ping').description('send Nebula Test messages to a host through the running node (a tunnel is made if needed); exit 0 when answered, 1 when not'))
    .argument('<host>', "the peer's overlay IP, or its certificate name once a tunnel to it is up")
    .option('-c, --count <n>', 'how many pings', positiveInt, 3)
    .option('--timeout <seconds>', 'how long to wait for each answer (the first one includes the handshake)', positiveInt, 5)
    .action(async (target: string, opts: SocketOptions & { count: number; timeout: number }) => {
      const socket = await socketFor(opts);
      let answered = 0;
      for (let i = 0; i < opts.count; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 1000));
        const a = (await controlRequest(socket, { command: 'ping', target, timeoutMs: opts.timeout * 1000 }, opts.timeout * 1000 + 5000)) as PingAnswer;
        const who = `${a.name ?? a.vpnIp} (${a.vpnIp})`;
        if (a.rttMs === null) {
          process.stdout.write(`no answer from ${who} within ${opts.timeout} s\n`);
          continue;
        }
        answered++;
        const via = a.path === 'relay' ? `relay ${a.relay?.name ?? a.relay?.vpnIp ?? '?'}` : a.remote;
        process.stdout.write(`pong from ${who} via ${via} in ${a.rttMs.toFixed(2)} ms\n`);
      }
      if (answered === 0) process.exitCode = 1;
    });
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}
