/**
 * Reading single config values the way Nebula's config getters do, but strictly: a value of the
 * wrong type or out of range is a UserError naming the key, e.g.
 * "config: tun.mtu: expected an integer between 500 and 65535, got 70000". An absent value (null or
 * undefined) gives the default.
 */
import { parseGoDuration } from '../../../pki/duration.js';
import { showValue, UserError } from '../../errors.js';
import { type Cidr, parseCidr } from '../../net/ipv4.js';
import { ipFamily, type IpPrefix, parseIpPrefix, parseVpnAddr, type VpnAddr } from '../../net/ip.js';

export type RawMap = Record<string, unknown>;

/** A "host:port" pair as written; host is an IP literal (IPv6 without brackets) or a DNS name. */
export interface HostPort {
  host: string;
  port: number;
}

export function isMapping(value: unknown): value is RawMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isAbsent(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}

/** What a value is, for messages: "a list", "a mapping", "nothing", or its type and text. */
export function kindOf(value: unknown): string {
  if (isAbsent(value)) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (isMapping(value)) return 'a mapping';
  return `${typeof value} ${showValue(value)}`;
}

/** "config: key: text". */
export function keyError(path: string, text: string): UserError {
  return new UserError(`config: ${path}: ${text}`);
}

/** The standard "config: key: expected X, got Y" error. */
export function configError(path: string, expected: string, got: unknown): UserError {
  return keyError(path, `expected ${expected}, got ${Array.isArray(got) || isMapping(got) ? kindOf(got) : showValue(got)}`);
}

/** A section's mapping; absent is an empty one. */
export function readMapping(value: unknown, path: string): RawMap {
  if (isAbsent(value)) return {};
  if (!isMapping(value)) throw configError(path, 'a mapping', value);
  return value;
}

const TRUE_WORDS = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE_WORDS = new Set(['false', 'f', '0', 'no', 'n', 'off']);

/** Booleans as Nebula's GetBool reads them (plus YAML 1.1 on/off, which yaml.v2 yields as bools). */
export function readBool(value: unknown, path: string, def: boolean): boolean {
  if (isAbsent(value)) return def;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && (value === 0 || value === 1)) return value === 1;
  if (typeof value === 'string') {
    const s = value.trim().toLowerCase();
    if (TRUE_WORDS.has(s)) return true;
    if (FALSE_WORDS.has(s)) return false;
  }
  throw configError(path, 'a boolean (true or false)', value);
}

export interface IntRange {
  min?: number;
  max?: number;
}

export function readInt(value: unknown, path: string, def: number, { min = -Infinity, max = Infinity }: IntRange = {}): number {
  if (isAbsent(value)) return def;
  let n = NaN;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    let range = '';
    if (min > -Infinity && max < Infinity) range = ` between ${min} and ${max}`;
    else if (min > -Infinity) range = ` >= ${min}`;
    else if (max < Infinity) range = ` <= ${max}`;
    throw configError(path, `an integer${range}`, value);
  }
  return n;
}

/** A string; numbers and booleans are taken as their text, as YAML scalars. */
export function readText(value: unknown, path: string, def: string): string {
  if (isAbsent(value)) return def;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw configError(path, 'a string', value);
}

export function readChoice<T extends string>(value: unknown, path: string, def: T, choices: readonly T[]): T {
  const s = readText(value, path, def);
  if (!(choices as readonly string[]).includes(s)) throw configError(path, `one of ${choices.join(', ')}`, value);
  return s as T;
}

/** A list of scalars as strings; with `single`, one scalar stands for a one-element list. */
export function readTextList(value: unknown, path: string, single = false): string[] {
  if (isAbsent(value)) return [];
  if (!Array.isArray(value)) {
    if (single && (typeof value === 'string' || typeof value === 'number')) return [String(value)];
    throw configError(path, 'a list', value);
  }
  return value.map((item, i) => {
    if (typeof item === 'string' || typeof item === 'number') return String(item);
    throw configError(`${path}[${i}]`, 'a string', item);
  });
}

/** A list whose every item is a mapping, each with its path ("tun.routes[0]"). */
export function readMappingList(value: unknown, path: string): Array<[RawMap, string]> {
  if (isAbsent(value)) return [];
  if (!Array.isArray(value)) throw configError(path, 'a list', value);
  return value.map((item, i) => {
    const itemPath = `${path}[${i}]`;
    if (!isMapping(item)) throw configError(itemPath, 'a mapping', item);
    return [item, itemPath];
  });
}

export function readCidr4(value: unknown, path: string): Cidr {
  if (typeof value === 'string') {
    try {
      return parseCidr(value.trim());
    } catch {
      /* reported below */
    }
  }
  throw configError(path, 'an IPv4 CIDR like 10.0.0.0/8', value);
}

/** An IPv4 CIDR (as a Cidr) or an IPv6 prefix (Nebula 1.10+ routes IPv6 networks too). */
export function readCidrAny(value: unknown, path: string): Cidr | (IpPrefix & { family: 6 }) {
  if (typeof value === 'string' && value.includes(':')) {
    const prefix = parseIpPrefix(value.trim());
    if (prefix?.family === 6) return prefix as IpPrefix & { family: 6 };
  } else if (typeof value === 'string') {
    try {
      return parseCidr(value.trim());
    } catch {
      /* reported below */
    }
  }
  throw configError(path, 'a CIDR like 10.0.0.0/8 or fd00:1::/64', value);
}

/** An overlay address of either family. */
export function readVpnAddr(value: unknown, path: string): VpnAddr {
  if (typeof value === 'string') {
    try {
      return parseVpnAddr(value);
    } catch {
      /* reported below */
    }
  }
  throw configError(path, 'an IPv4 or IPv6 address', value);
}

/**
 * A Go duration ("100ms", "12m", "1h30m", "1.5s", "0") in milliseconds. A plain number (YAML number
 * or all-digit string) is read as seconds, the unit Nebula uses for its integer interval keys.
 */
export function parseDuration(value: string | number, path: string): number {
  const bad = (): UserError => configError(path, 'a duration like "100ms", "12m" or "1h30m"', value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw bad();
    return value * 1000;
  }
  if (typeof value !== 'string') throw bad();
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  let nanoseconds: bigint;
  try {
    nanoseconds = parseGoDuration(text);
  } catch {
    throw bad();
  }
  if (nanoseconds < 0n) throw configError(path, 'a non-negative duration', value);
  return Number(nanoseconds) / 1e6;
}

/** A key Nebula reads with GetDuration (Go syntax); a bare number works but gets a warning. */
export function readDuration(value: unknown, path: string, defMs: number, warn: (text: string) => void): number {
  if (isAbsent(value)) return defMs;
  if (typeof value === 'number' && value !== 0) {
    warn(`bare number ${value} read as ${value} seconds; nebula 1.6 ignores bare numbers here and uses its default, write "${value}s" to be unambiguous`);
  }
  if (typeof value !== 'number' && typeof value !== 'string') throw configError(path, 'a duration like "100ms", "12m" or "1h30m"', value);
  return parseDuration(value, path);
}

/** A key Nebula reads with GetInt as whole seconds, in milliseconds; Go durations are accepted too. */
export function readSeconds(value: unknown, path: string, defSeconds: number): number {
  if (isAbsent(value)) return defSeconds * 1000;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw configError(path, 'a whole number of seconds >= 0 (or a duration like "10s")', value);
    return value * 1000;
  }
  if (typeof value === 'string') return parseDuration(value, path);
  throw configError(path, 'a whole number of seconds >= 0 (or a duration like "10s")', value);
}

/** "host:port" (IPv6 as "[::1]:4242"); the port must be 1..65535, or 0..65535 with `allowPortZero`. */
export function readHostPort(text: string, path: string, allowPortZero: boolean): HostPort {
  const t = text.trim();
  let host: string;
  let portText: string;
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0 || t[close + 1] !== ':') throw configError(path, '"host:port" (IPv6 as "[addr]:port")', text);
    host = t.slice(1, close);
    portText = t.slice(close + 2);
    if (ipFamily(host) !== 6) throw configError(path, 'a valid IPv6 address inside [ ]', text);
  } else {
    const colon = t.lastIndexOf(':');
    if (colon <= 0 || t.indexOf(':') !== colon) throw configError(path, '"host:port" (IPv6 as "[addr]:port")', text);
    host = t.slice(0, colon);
    portText = t.slice(colon + 1);
    if (!/^[A-Za-z0-9._-]+$/.test(host)) throw configError(path, 'a host name or IP address before ":port"', text);
  }
  const min = allowPortZero ? 0 : 1;
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < min || Number(portText) > 65535) {
    throw configError(path, `a port between ${min} and 65535 after the host`, text);
  }
  return { host, port: Number(portText) };
}
