import { Command } from 'commander';
import { UserError } from '../errors.js';
import type { LoadedConfig } from '../node/config.js';
import { runNode } from './node.js';

/** `mesh lighthouse` is `mesh node` with lighthouse.am_lighthouse forced on. */
export function asLighthouse(loaded: LoadedConfig): void {
  const config = loaded.config;
  config.lighthouse.amLighthouse = true;
  // Read before am_lighthouse was forced on: a lighthouse does serve DNS and the map.
  for (const key of ['lighthouse.serve_dns:', 'lighthouse.web.enabled:']) {
    const warning = loaded.warnings.findIndex((w) => w.startsWith(key));
    if (warning >= 0) loaded.warnings.splice(warning, 1);
  }
  if (config.listen.port === 0) {
    throw new UserError(`config ${loaded.source}: listen.port: a lighthouse needs a fixed port (the one in the nodes' static_host_map), not 0 or unset`);
  }
  if (config.lighthouse.hosts.length > 0) {
    loaded.warnings.push('lighthouse.hosts: ignored, this node is a lighthouse');
    config.lighthouse.hosts = [];
  }
}

export function lighthouseCommand(): Command {
  return new Command('lighthouse')
    .description('run a lighthouse: a node with lighthouse.am_lighthouse forced on (needs listen.port; tun.disabled: true runs without root)')
    .requiredOption('-c, --config <path>', 'config file, or a directory of *.yml/*.yaml files merged in order')
    .option('-t, --test', 'run every check a start would run (config, certificates, static hosts), then exit')
    .action(async (_opts, command: Command) => {
      await runNode(command.optsWithGlobals(), asLighthouse);
    });
}
