import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import type { Commands } from './commands.js';

/**
 * The commands `argv` needs: the one it names; none for a bare --version; all for help and errors.
 * Each is loaded only then: `mesh --version` loads none of them (nor the command line parser) and
 * `mesh ca print` none of the node's modules (start-up time is mostly module loading).
 */
function commandsFor(argv: readonly string[], commands: Commands): string[] {
  const named = argv.find((a) => Object.hasOwn(commands, a));
  if (named) return [named];
  if (argv.length === 1 && (argv[0] === '-v' || argv[0] === '--version')) return [];
  return Object.keys(commands);
}

/** The program for `argv`, with the subcommands of `commands` it needs (src/cli/commands.ts). */
export async function buildProgram(argv: readonly string[], commands: Commands): Promise<Command> {
  const { Command, Option } = await import('commander');
  const names = commandsFor(argv, commands);
  const program = new Command('mesh').description('Encrypted peer-to-peer overlay network, wire-compatible with Nebula 1.6');
  // Only without a command: commander would take `--version` anywhere on the line, and
  // `mesh ca init|sign --version 2` is nebula-cert's certificate format flag.
  if (names.length !== 1) program.version(packageVersion(), '-v, --version');
  program
    .addOption(new Option('--log-format <format>', 'log output format (default: text on a terminal, json otherwise)').choices(['json', 'text']))
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const name of names) program.addCommand(await commands[name]!());
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

export async function main(argv: string[], commands: Commands): Promise<number> {
  if (argv.length === 1 && (argv[0] === '-v' || argv[0] === '--version')) {
    // What commander would print, without loading it: `mesh --version` is a health check in scripts.
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  try {
    const program = await buildProgram(argv, commands);
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const { CommanderError } = await import('commander');
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
