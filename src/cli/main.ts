import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { UserError } from '../errors.js';

/**
 * The subcommands, each loaded only when it runs: `mesh --version` loads none of them and
 * `mesh ca print` none of the node's modules (start-up time is mostly module loading).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  ca: async () => (await import('./ca.js')).caCommand(),
  node: async () => (await import('./node.js')).nodeCommand(),
  lighthouse: async () => (await import('./lighthouse.js')).lighthouseCommand(),
  join: async () => (await import('./join.js')).joinCommand(),
  status: async () => (await import('./status.js')).statusCommand(),
  ping: async () => (await import('./ping.js')).pingCommand(),
  reload: async () => (await import('./reload.js')).reloadCommand(),
};

/** The commands `argv` needs: the one it names; none for a bare --version; all for help and errors. */
function commandsFor(argv: readonly string[]): string[] {
  const named = argv.find((a) => Object.hasOwn(COMMANDS, a));
  if (named) return [named];
  if (argv.length === 1 && (argv[0] === '-v' || argv[0] === '--version')) return [];
  return Object.keys(COMMANDS);
}

export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const names = commandsFor(argv);
  const program = new Command('mesh').description('Encrypted peer-to-peer overlay network, wire-compatible with Nebula 1.6');
  // Only without a command: commander would take `--version` anywhere on the line, and
  // `mesh ca init|sign --version 2` is nebula-cert's certificate format flag.
  if (names.length !== 1) program.version(packageVersion(), '-v, --version');
  program
    .addOption(new Option('--log-format <format>', 'log output format (default: text on a terminal, json otherwise)').choices(['json', 'text']))
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const name of names) program.addCommand(await COMMANDS[name]!());
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
  try {
    const program = await buildProgram(argv);
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
