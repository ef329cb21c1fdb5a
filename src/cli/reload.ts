/** `mesh reload`: the running node re-reads its config, as on SIGHUP, and says whether it could. */
import { Command } from 'commander';
import { controlRequest, socketFor, withSocketOptions, type SocketOptions } from './control-client.js';

export function reloadCommand(): Command {
  return withSocketOptions(new Command('reload').description('make the running node re-read its config (as SIGHUP does); exit 1 when the new config is refused'))
    .action(async (opts: SocketOptions) => {
      await controlRequest(await socketFor(opts), { command: 'reload' }, 30_000);
      process.stdout.write('configuration reloaded\n');
    });
}
