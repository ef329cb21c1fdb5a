import type { Logger, LevelWithSilent } from 'pino';

export type { Logger };
export type LogFormat = 'json' | 'text';

export interface LogOptions {
  level?: LevelWithSilent;
  /** json by default; text when stderr is a terminal unless set explicitly. */
  format?: LogFormat;
  /** Where log lines go; stderr by default so that command output on stdout stays clean. */
  destination?: NodeJS.WritableStream;
  /** false: lines without a time (logging.disable_timestamp, for a collector that adds its own). */
  timestamp?: boolean;
}

/**
 * pino is loaded only when a logger is made (not by `mesh ca print`, `mesh --version`). Lines carry
 * no pid or host name (`base: undefined`): pino reads both when it is loaded, which for the start-up
 * snapshot (src/cli/snapshot.ts) is at build time.
 */
export async function createLogger(options: LogOptions = {}): Promise<Logger> {
  const { default: pino } = await import('pino');
  const destination = options.destination ?? process.stderr;
  const isTty = (destination as { isTTY?: boolean }).isTTY === true;
  const format = options.format ?? (isTty ? 'text' : 'json');
  const level = options.level ?? 'info';
  const sink = destination === process.stderr ? pino.destination({ dest: 2, sync: true }) : destination;
  const settings = { level, base: undefined, timestamp: options.timestamp ?? true };
  if (format === 'text') return pino(settings, { write: (line: string) => sink.write(textLine(line)) });
  return pino(settings, sink);
}

/** logrus's level names, which Nebula's text lines carry, by pino's level numbers. */
const TEXT_LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };

/**
 * One of pino's JSON lines as the line Nebula's text format (logrus's TextFormatter) writes:
 * `time="2026-12-07T03:14:55Z" level=info msg="tunnel up" peer=10.42.0.2 ...`, one line per entry
 * (journald and grep see each entry whole), the entry's fields in their order, an error as its
 * message under `error`. Time is RFC 3339 in UTC, to the millisecond.
 */
export function textLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, msg, err, ...fields } = entry;
  let line = time === undefined ? '' : `time=${logValue(typeof time === 'number' ? new Date(time).toISOString().replace('.000Z', 'Z') : time)} `;
  line += `level=${TEXT_LEVELS[level as number] ?? logValue(level)}`;
  if (msg !== undefined) line += ` msg=${logValue(msg)}`;
  for (const [key, value] of Object.entries(fields)) line += ` ${key}=${logValue(value)}`;
  if (err !== undefined) line += ` error=${logValue(err !== null && typeof err === 'object' && 'message' in err ? (err as { message: unknown }).message : err)}`;
  return `${line}\n`;
}

/** A value as logrus writes it: bare when it is only letters, digits and `-._/@^+`, else quoted. */
function logValue(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /^[\w\-./@^+]+$/.test(text) ? text : JSON.stringify(text);
}
