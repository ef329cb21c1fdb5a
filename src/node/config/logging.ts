/** logging: level and format of the log. */
import { bool, field, oneOf, section, text } from './schema.js';
import { configError, readText } from './values.js';

const LOG_LEVELS = ['panic', 'fatal', 'error', 'warning', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Nebula's (logrus) level names, any case; "warn" is "warning". */
const level = field('level', (value, path): LogLevel => {
  let name = readText(value, path, 'info').toLowerCase();
  if (name === 'warn') name = 'warning';
  if (!(LOG_LEVELS as readonly string[]).includes(name)) throw configError(path, `one of ${LOG_LEVELS.join(', ')}`, value);
  return name as LogLevel;
});

export const loggingSection = section('logging', {
  level,
  format: oneOf('format', 'text', ['text', 'json']),
  disableTimestamp: bool('disable_timestamp', false),
  /** Go time layout; "" = Nebula's default. */
  timestampFormat: text('timestamp_format', ''),
});
