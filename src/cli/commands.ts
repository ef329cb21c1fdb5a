import type { Command } from 'commander';
import { TOOL_COMMANDS } from './tool-commands.js';

/** The subcommands by name, each loaded only when it runs. */
export type Commands = Readonly<Record<string, () => Promise<Command>>>;

/** Every subcommand, in the order `mesh --help` lists them. */
export const COMMANDS: Commands = {
  ca: TOOL_COMMANDS.ca!,
  node: async () => (await import('./node.js')).nodeCommand(),
  lighthouse: async () => (await import('./lighthouse.js')).lighthouseCommand(),
  join: async () => (await import('./join.js')).joinCommand(),
  status: TOOL_COMMANDS.status!,
  ping: TOOL_COMMANDS.ping!,
  reload: TOOL_COMMANDS.reload!,
};
