import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { UserError } from '../errors.js';
import { caCommand } from './ca.js';
import { nodeCommand } from './node.js';
import { lighthouseCommand } from './lighthouse.js';
import { pingCommand } from './ping.js';
import { reloadCommand } from './reload.js';
import { statusCommand } from './status.js';

export function buildProgram(): Command {
  const program = new Command('mesh')
    .description('Encrypted peer-to-peer overlay network, wire-compatible with Nebula 1.6')
    .version(packageVersion(), '-v, --version')
    .addOption(new Option('--log-format <format>', 'log output format (default: text on a terminal, json otherwise)').choices(['json', 'text']))
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addCommand(caCommand());
  program.addCommand(nodeCommand());
  program.addCommand(lighthouseCommand());
  program.addCommand(statusCommand());
  program.addCommand(pingCommand());
  program.addCommand(reloadCommand());
  for (const command of program.commands) applyExitOverride(command);
  return program;
}

function packageVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

function applyExitOverride(command: Command): void {
  command.exitOverride();
  for (const sub of command.commands) applyExitOverride(sub);
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed the message (or the help/version text).
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UserError) {
      process.stderr.write(`Error: ${err.message}\n`);
      return err.exitCode;
    }
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`Internal error: ${detail}\n`);
    return 70; // EX_SOFTWARE
  }
}
