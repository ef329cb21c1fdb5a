import type { Commands } from './commands.js';

/**
 * The short-lived commands: the launcher starts them from the small start-up snapshot of
 * src/cli/snapshot-tools.ts (scripts/bundle.mjs), which holds none of the daemons' code. Kept apart
 * from COMMANDS (./commands.ts) so that bundling this table does not take in every command.
 */
export const TOOL_COMMANDS: Commands = {
  ca: async () => (await import('./ca.js')).caCommand(),
  status: async () => (await import('./status.js')).statusCommand(),
  ping: async () => (await import('./ping.js')).pingCommand(),
  reload: async () => (await import('./reload.js')).reloadCommand(),
};
