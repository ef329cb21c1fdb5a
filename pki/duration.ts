/**
 * Go's time.Duration text syntax ("8760h", "1h30m", "1.5h", "90s", "300ms"), as nebula-cert's
 * -duration flag accepts it. Durations are nanoseconds in a bigint (Go: int64).
 */

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

export const NANOS_PER_SECOND = 1_000_000_000n;
const MAX_INT64 = (1n << 63n) - 1n;

export class DurationError extends Error {
  constructor(text: string, reason = 'invalid duration') {
    super(`${reason} "${text}"`);
    this.name = 'DurationError';
  }
}

/** Parses a Go duration string into nanoseconds. */
export function parseGoDuration(text: string): bigint {
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw new DurationError(text);
  const re = /^(\d*)(?:\.(\d*))?([^\d.]+)/;
  let total = 0n;
  while (s !== '') {
    const m = re.exec(s);
    if (!m) throw new DurationError(text);
    const [whole, intPart = '', fracPart = '', unitText = ''] = m;
    if (intPart === '' && fracPart === '') throw new DurationError(text);
    const unit = UNITS[unitText];
    if (unit === undefined) throw new DurationError(text, unitText ? `unknown unit "${unitText}" in duration` : 'missing unit in duration');
    let value = BigInt(intPart || '0') * unit;
    if (fracPart !== '') {
      const scale = 10n ** BigInt(fracPart.length);
      value += (BigInt(fracPart) * unit) / scale;
    }
    total += value;
    if (total > MAX_INT64 + (negative ? 1n : 0n)) throw new DurationError(text, 'invalid duration (overflow)');
    s = s.slice(whole.length);
  }
  return negative ? -total : total;
}

/** Formats nanoseconds like Go's Duration.String() for whole seconds ("8760h0m0s", "1m30s", "0s"). */
export function formatGoDuration(ns: bigint): string {
  const negative = ns < 0n;
  let rest = negative ? -ns : ns;
  const sign = negative ? '-' : '';
  if (rest === 0n) return '0s';
  if (rest < NANOS_PER_SECOND) {
    if (rest < 1_000n) return `${sign}${rest}ns`;
    if (rest < 1_000_000n) return `${sign}${trimFraction(rest, 1_000n)}µs`;
    return `${sign}${trimFraction(rest, 1_000_000n)}ms`;
  }
  const hours = rest / UNITS['h']!;
  rest %= UNITS['h']!;
  const minutes = rest / UNITS['m']!;
  rest %= UNITS['m']!;
  const seconds = trimFraction(rest, NANOS_PER_SECOND);
  if (hours > 0n) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0n) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

function trimFraction(value: bigint, unit: bigint): string {
  const whole = value / unit;
  const frac = value % unit;
  if (frac === 0n) return String(whole);
  const digits = String(unit).length - 1;
  return `${whole}.${String(frac).padStart(digits, '0').replace(/0+$/, '')}`;
}
