import type { Logger, LevelWithSilent } from 'pino';

export type { Logger };
export type LogFormat = 'json' | 'text';

export interface LogOptions {
  level?: LevelWithSilent;
  /** json by default; text when stderr is a terminal unless set explicitly. */
  format?: LogFormat;
  /** Where log lines go; stderr by default so that command output on stdout stays clean. */
  destination?: NodeJS.WritableStream;
}

const LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function isLogLevel(value: string): value is LevelWithSilent {
  return (LEVELS as readonly string[]).includes(value);
}

/**
 * pino is loaded only when a logger is made (not by `mesh ca print`, `mesh --version`), and
 * pino-pretty only for text output: it is the costliest module a node start would load. Lines
 * carry no pid or host name (`base: undefined`): pino reads both when it is loaded, which for the
 * start-up snapshot (src/cli/snapshot.ts) is at build time.
 */
export async function createLogger(options: LogOptions = {}): Promise<Logger> {
  const { default: pino } = await import('pino');
  const destination = options.destination ?? process.stderr;
  const isTty = (destination as { isTTY?: boolean }).isTTY === true;
  const format = options.format ?? (isTty ? 'text' : 'json');
  const level = options.level ?? 'info';
  if (format === 'text') {
    const { default: pretty } = await import('pino-pretty');
    const stream = pretty({ destination, sync: true, colorize: isTty, translateTime: 'SYS:standard', ignore: 'pid,hostname' });
    return pino({ level, base: undefined }, stream);
  }
  const sink = destination === process.stderr ? pino.destination({ dest: 2, sync: true }) : destination;
  return pino({ level, base: undefined }, sink);
}
