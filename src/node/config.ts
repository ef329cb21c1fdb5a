/**
 * Loader for Nebula 1.6 YAML config files, keys as Nebula spells them, turned into a typed structure
 * with Nebula's defaults applied.
 *
 * Compared to Nebula (which silently falls back to the default on most malformed values) this loader
 * is strict: a value of the wrong type or out of range is a UserError naming the key. Keys it does not
 * know, or knows but does not implement, become warnings (one per key) so that a config file written
 * for a real nebula node still loads.
 *
 * A directory may be given instead of a file: every *.yml / *.yaml in it (recursively, lexical order)
 * is loaded and deep-merged the way Nebula does it: maps merge key by key, lists are concatenated
 * (so firewall rules can be split across files), and for scalars the later file wins.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { extname, join, resolve } from 'node:path';
import YAML from 'yaml';
import { describeFsError, showValue, UserError } from '../errors.js';
import {
  type AllowList,
  AllowListError,
  type AllowListRule,
  completeAllowList,
  type InterfaceRule,
  interfaceRegex,
  type LocalAllowList,
  type RemoteAllowRange,
} from '../net/allow-list.js';
import { parseIpPrefix } from '../net/ip.js';
import { type Cidr, parseCidr, parseIp } from '../net/ipv4.js';
import { type FirewallRule, parseFirewallRules } from './firewall.js';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** A "host:port" pair as written; host is an IP literal (IPv6 without brackets) or a DNS name. */
export interface HostPort {
  host: string;
  port: number;
}

export type SendRecvError = 'always' | 'never' | 'private';
export type LogLevel = 'panic' | 'fatal' | 'error' | 'warning' | 'info' | 'debug' | 'trace';
export type Cipher = 'aes' | 'chachapoly';

export interface TunRoute {
  route: Cidr;
  mtu: number;
}

export interface UnsafeRoute {
  route: Cidr;
  /** VPN IP of the node that routes this network. */
  via: number;
  /** 0 = use tun.mtu. */
  mtu: number;
  metric: number;
}

/** All durations are in milliseconds. */
export interface NodeConfig {
  pki: {
    /** Path or inline PEM, as written. */
    ca: string;
    cert: string;
    key: string;
    /** Lower-case hex certificate fingerprints (pki.blocklist plus the deprecated pki.blacklist). */
    blocklist: string[];
    disconnectInvalid: boolean;
  };
  /** VPN IP (uint32) → underlay addresses in file order; name resolution is the runtime's job. */
  staticHostMap: Map<number, HostPort[]>;
  lighthouse: {
    amLighthouse: boolean;
    /** Update interval in ms; 0 disables updates. (Written in whole seconds in the file; default 10 s.) */
    interval: number;
    /** VPN IPs of the lighthouses. */
    hosts: number[];
    remoteAllowList: AllowList | null;
    remoteAllowRanges: RemoteAllowRange[];
    localAllowList: LocalAllowList | null;
    /** Port 0 means "use the listen port". */
    advertiseAddrs: HostPort[];
    serveDns: boolean;
    dns: { host: string; port: number };
  };
  listen: {
    host: string;
    /** 0 = random port. */
    port: number;
    batch: number;
    /** 0 = system default. */
    readBuffer: number;
    writeBuffer: number;
    sendRecvError: SendRecvError;
  };
  routines: number;
  /** respondDelay: `punchy.respond_delay` (nebula 1.7's key; 1.6 always waits 5 s). */
  punchy: { punch: boolean; respond: boolean; delay: number; respondDelay: number };
  cipher: Cipher;
  /** preferred_ranges plus the deprecated local_range. */
  preferredRanges: Cidr[];
  relay: { relays: number[]; amRelay: boolean; useRelays: boolean };
  /** mesh extension (Nebula ignores the section): STUN for NAT discovery. */
  stun: {
    /** Lighthouse: second UDP port answering STUN, named in OTHER-ADDRESS (RFC 5780); 0 = none. */
    alternatePort: number;
    /** Node: how often to ask the lighthouses for our reflexive address; 0 = never. */
    interval: number;
  };
  tun: {
    disabled: boolean;
    /** null = let the OS choose. */
    dev: string | null;
    mtu: number;
    txQueue: number;
    dropLocalBroadcast: boolean;
    dropMulticast: boolean;
    routes: TunRoute[];
    unsafeRoutes: UnsafeRoute[];
  };
  logging: {
    level: LogLevel;
    format: 'text' | 'json';
    disableTimestamp: boolean;
    /** Go time layout; "" = Nebula's default. */
    timestampFormat: string;
  };
  handshakes: { tryInterval: number; retries: number; triggerBuffer: number };
  timers: { connectionAliveInterval: number; pendingDeletionInterval: number };
  firewall: {
    conntrack: {
      tcpTimeout: number;
      udpTimeout: number;
      defaultTimeout: number;
      /** mesh extension: bound on tracked flows (Nebula 1.6 has no bound). */
      maxConnections: number;
    };
    inbound: FirewallRule[];
    outbound: FirewallRule[];
  };
  /** Parsed only to be reported as unsupported; null when absent. */
  stats: Record<string, unknown> | null;
  sshd: Record<string, unknown> | null;
}

export interface LoadedConfig {
  config: NodeConfig;
  warnings: string[];
  /** The merged YAML document (what Nebula calls Settings). */
  raw: unknown;
  /** File path, or "dir (a.yml, b.yml)". */
  source: string;
}

export const DEFAULT_MAX_CONNECTIONS = 100_000;

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/** Loads a config file, or every *.yml/*.yaml under a directory (lexical order, deep-merged). */
export function loadConfig(pathOrDir: string): LoadedConfig {
  const path = resolve(pathOrDir);
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new UserError(`config file ${pathOrDir}: ${errnoText(err)}`);
  }
  const files = isDir ? collectYamlFiles(path) : [path];
  if (files.length === 0) throw new UserError(`config directory ${pathOrDir}: no *.yml or *.yaml files found`);
  let merged: unknown = null;
  for (const file of files) merged = mergeConfig(merged, readYamlFile(file));
  const source = isDir ? `${path} (${files.map((f) => f.slice(path.length + 1)).join(', ')})` : path;
  return parseConfig(merged ?? {}, source);
}

function collectYamlFiles(dir: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new UserError(`config directory ${dir}: ${errnoText(err)}`);
  }
  for (const name of names) {
    const full = join(dir, name);
    let st;
    try {
      st = statSync(full);
    } catch {
      continue; // dangling symlink: Nebula ignores it as well
    }
    if (st.isDirectory()) out.push(...collectYamlFiles(full));
    else if (extname(name) === '.yml' || extname(name) === '.yaml') out.push(full);
  }
  return out.sort();
}

function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`config file ${file}: ${errnoText(err)}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text, { merge: true, prettyErrors: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new UserError(`config file ${file}: invalid YAML: ${msg}`);
  }
  if (doc === null || doc === undefined) return null;
  if (!isMap(doc)) throw new UserError(`config file ${file}: expected a YAML mapping at the top level, got ${kindOf(doc)}`);
  return doc;
}

/** The path may name a file or a directory, so a missing one is said as the OS says it. */
function errnoText(err: unknown): string {
  return describeFsError(err, 'no such file or directory');
}

/**
 * Nebula's merge (mergo.Merge with WithAppendSlice): maps merge recursively, lists are
 * concatenated, other values: the later file wins unless it is null/absent.
 */
export function mergeConfig(earlier: unknown, later: unknown): unknown {
  if (later === null || later === undefined) return earlier;
  if (earlier === null || earlier === undefined) return later;
  if (isMap(earlier) && isMap(later)) {
    const out: Record<string, unknown> = { ...earlier };
    for (const [k, v] of Object.entries(later)) out[k] = k in out ? mergeConfig(out[k], v) : v;
    return out;
  }
  if (Array.isArray(earlier) && Array.isArray(later)) return [...earlier, ...later];
  return later;
}

// ---------------------------------------------------------------------------------------------
// Value helpers
// ---------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function isMap(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (isMap(v)) return 'a mapping';
  return `${typeof v} ${showValue(v)}`;
}

/** Throws the standard "config: key: expected X, got Y" error. */
export function configError(key: string, expected: string, got: unknown): UserError {
  return new UserError(`config: ${key}: expected ${expected}, got ${Array.isArray(got) || isMap(got) ? kindOf(got) : showValue(got)}`);
}

class Ctx {
  readonly warnings: string[] = [];
  private readonly warned = new Set<string>();
  warn(key: string, text: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warnings.push(`${key}: ${text}`);
  }
}

/** Keys that exist in later Nebula versions only, with the version that added them. */
const LATER_NEBULA_KEYS: Record<string, string> = {
  'lighthouse.calculated_remotes': '1.7',
  'firewall.inbound_action': '1.7',
  'firewall.outbound_action': '1.7',
  'firewall.default_local_cidr_any': '1.9',
  'tun.use_system_route_table': '1.7',
};

/** Known Nebula 1.6 keys mesh accepts but does not act on. */
const UNSUPPORTED_KEYS: Record<string, string> = {
  'tun.routines': 'deprecated in nebula; use routines',
  'listen.routines': 'deprecated in nebula; use routines',
  'firewall.conntrack.routine_cache_timeout': 'mesh has a single conntrack table',
  'promoter': 'not used by nebula 1.6',
  'handshake_mac': 'not used by nebula 1.6',
};

function checkKeys(ctx: Ctx, obj: Obj, prefix: string, known: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (known.includes(k)) continue;
    const full = prefix ? `${prefix}.${k}` : k;
    if (LATER_NEBULA_KEYS[full]) ctx.warn(full, `only exists in nebula ${LATER_NEBULA_KEYS[full]}+, ignored (mesh follows nebula 1.6)`);
    else if (UNSUPPORTED_KEYS[full]) ctx.warn(full, `accepted but not supported (${UNSUPPORTED_KEYS[full]}), ignored`);
    else ctx.warn(full, 'unknown key, ignored');
  }
}

function section(v: unknown, key: string): Obj {
  if (v === null || v === undefined) return {};
  if (!isMap(v)) throw configError(key, 'a mapping', v);
  return v;
}

const TRUE_WORDS = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE_WORDS = new Set(['false', 'f', '0', 'no', 'n', 'off']);

/** Booleans as Nebula's GetBool reads them (plus YAML 1.1 on/off, which yaml.v2 yields as bools). */
function bool(v: unknown, key: string, def: boolean): boolean {
  if (v === null || v === undefined) return def;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (TRUE_WORDS.has(s)) return true;
    if (FALSE_WORDS.has(s)) return false;
  }
  throw configError(key, 'a boolean (true or false)', v);
}

function int(v: unknown, key: string, def: number, min = -Infinity, max = Infinity): number {
  if (v === null || v === undefined) return def;
  let n: number = NaN;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    let range = '';
    if (min > -Infinity && max < Infinity) range = ` between ${min} and ${max}`;
    else if (min > -Infinity) range = ` >= ${min}`;
    else if (max < Infinity) range = ` <= ${max}`;
    throw configError(key, `an integer${range}`, v);
  }
  return n;
}

function str(v: unknown, key: string, def: string): string {
  if (v === null || v === undefined) return def;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw configError(key, 'a string', v);
}

function oneOf<T extends string>(v: unknown, key: string, def: T, choices: readonly T[]): T {
  const s = str(v, key, def);
  if (!(choices as readonly string[]).includes(s)) throw configError(key, `one of ${choices.join(', ')}`, v);
  return s as T;
}

/** A list of scalars as strings; a single scalar is accepted as a one-element list when `single`. */
function strList(v: unknown, key: string, single = false): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) {
    if (single && (typeof v === 'string' || typeof v === 'number')) return [String(v)];
    throw configError(key, 'a list', v);
  }
  return v.map((item, i) => {
    if (typeof item === 'string' || typeof item === 'number') return String(item);
    throw configError(`${key}[${i}]`, 'a string', item);
  });
}

function ipv4(v: unknown, key: string): number {
  if (typeof v === 'string') {
    try {
      return parseIp(v);
    } catch {
      /* fall through */
    }
  }
  throw configError(key, 'an IPv4 address', v);
}

function cidr4(v: unknown, key: string): Cidr {
  if (typeof v === 'string') {
    try {
      return parseCidr(v.trim());
    } catch {
      /* fall through */
    }
  }
  throw configError(key, 'an IPv4 CIDR like 10.0.0.0/8', v);
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const GO_DURATION = /^([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/;

/**
 * Parses a Go duration ("100ms", "12m", "1h30m", "1.5s", "0") into milliseconds. A plain number
 * (YAML number or all-digit string) is read as seconds, the unit Nebula uses for its integer
 * interval keys. Throws UserError naming `key`.
 */
export function parseDuration(text: string | number, key: string): number {
  const bad = (): UserError => configError(key, 'a duration like "100ms", "12m" or "1h30m"', text);
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw bad();
    return text * 1000;
  }
  if (typeof text !== 'string') throw bad();
  let s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s.startsWith('-') ? -1 : 1;
    s = s.slice(1);
  }
  if (s === '') throw bad();
  let total = 0;
  while (s.length > 0) {
    const m = GO_DURATION.exec(s);
    if (!m || m[1] === '' || m[1] === '.') throw bad();
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    s = s.slice(m[0].length);
  }
  if (sign < 0 && total !== 0) throw configError(key, 'a non-negative duration', text);
  return total;
}

/** Duration key as Nebula reads it with GetDuration (Go syntax). */
function duration(ctx: Ctx, v: unknown, key: string, defMs: number): number {
  if (v === null || v === undefined) return defMs;
  if (typeof v === 'number' && v !== 0) {
    ctx.warn(key, `bare number ${v} read as ${v} seconds; nebula 1.6 ignores bare numbers here and uses its default, write "${v}s" to be unambiguous`);
  }
  if (typeof v !== 'number' && typeof v !== 'string') throw configError(key, 'a duration like "100ms", "12m" or "1h30m"', v);
  return parseDuration(v, key);
}

/** Integer-seconds key as Nebula reads it with GetInt; Go durations are accepted too. */
function seconds(v: unknown, key: string, defSeconds: number): number {
  if (v === null || v === undefined) return defSeconds * 1000;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw configError(key, 'a whole number of seconds >= 0 (or a duration like "10s")', v);
    return v * 1000;
  }
  if (typeof v === 'string') return parseDuration(v, key);
  throw configError(key, 'a whole number of seconds >= 0 (or a duration like "10s")', v);
}

/** "host:port" (IPv6 as "[::1]:4242"); validates the port. */
export function parseHostPort(text: string, key: string, allowPortZero: boolean): HostPort {
  const t = text.trim();
  let host: string;
  let portText: string;
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0 || t[close + 1] !== ':') throw configError(key, '"host:port" (IPv6 as "[addr]:port")', text);
    host = t.slice(1, close);
    portText = t.slice(close + 2);
    if (!isIPv6(host)) throw configError(key, 'a valid IPv6 address inside [ ]', text);
  } else {
    const colon = t.lastIndexOf(':');
    if (colon <= 0 || t.indexOf(':') !== colon) throw configError(key, '"host:port" (IPv6 as "[addr]:port")', text);
    host = t.slice(0, colon);
    portText = t.slice(colon + 1);
    if (!/^[A-Za-z0-9._-]+$/.test(host)) throw configError(key, 'a host name or IP address before ":port"', text);
  }
  const min = allowPortZero ? 0 : 1;
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < min || Number(portText) > 65535) {
    throw configError(key, `a port between ${min} and 65535 after the host`, text);
  }
  return { host, port: Number(portText) };
}

// ---------------------------------------------------------------------------------------------
// Allow lists
// ---------------------------------------------------------------------------------------------

function parseAllowList(v: unknown, key: string, onInterfaces?: (value: unknown) => void): AllowList {
  if (!isMap(v)) throw configError(key, 'a mapping of CIDR to true/false', v);
  const rules: AllowListRule[] = [];
  for (const [cidrText, value] of Object.entries(v)) {
    if (cidrText === 'interfaces' && onInterfaces) {
      onInterfaces(value);
      continue;
    }
    const parsed = parseIpPrefix(cidrText);
    if (!parsed) throw configError(`${key}."${cidrText}"`, 'a CIDR key (IPv4 or IPv6) mapped to true/false', cidrText);
    if (value === null || value === undefined) throw configError(`${key}."${cidrText}"`, 'true or false', value);
    rules.push({ cidr: cidrText, ...parsed, allow: bool(value, `${key}."${cidrText}"`, false), implicit: false });
  }
  try {
    return completeAllowList(rules);
  } catch (err) {
    if (err instanceof AllowListError) throw new UserError(`config: ${key}: ${err.message}`);
    throw err;
  }
}

function parseLocalAllowList(v: unknown, key: string): LocalAllowList {
  const interfaces: InterfaceRule[] = [];
  const list = parseAllowList(v, key, (value) => {
    const k = `${key}.interfaces`;
    if (value === null || value === undefined) return;
    if (!isMap(value)) throw configError(k, 'a mapping of interface-name regex to true/false', value);
    for (const [pattern, allow] of Object.entries(value)) {
      const regex = interfaceRegex(pattern);
      if (!regex) throw configError(`${k}."${pattern}"`, 'a valid regular expression as key', pattern);
      interfaces.push({ pattern, regex, allow: bool(allow, `${k}."${pattern}"`, false) });
    }
    if (new Set(interfaces.map((r) => r.allow)).size > 1) throw new UserError(`config: ${k}: values must all be the same true/false value`);
  });
  return { ...list, interfaces };
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

const TOP_KEYS = [
  'pki', 'static_host_map', 'lighthouse', 'listen', 'routines', 'punchy', 'punch_back', 'cipher',
  'preferred_ranges', 'local_range', 'relay', 'stun', 'tun', 'logging', 'handshakes', 'timers', 'firewall', 'stats', 'sshd',
] as const;

/** Validates an already-parsed YAML document. Throws UserError on the first bad value. */
export function parseConfig(raw: unknown, source: string): LoadedConfig {
  const ctx = new Ctx();
  if (raw === null || raw === undefined) raw = {};
  if (!isMap(raw)) throw new UserError(`config ${source}: expected a YAML mapping at the top level, got ${kindOf(raw)}`);
  const root = raw;
  checkKeys(ctx, root, '', TOP_KEYS);

  const pki = parsePki(ctx, root);
  const staticHostMap = parseStaticHostMap(root.static_host_map);
  const listen = parseListen(ctx, root.listen);
  const lighthouse = parseLighthouse(ctx, root.lighthouse, staticHostMap);
  const routines = int(root.routines, 'routines', 1, 1, 1024);
  const punchy = parsePunchy(ctx, root);
  const cipher = oneOf<Cipher>(root.cipher, 'cipher', 'aes', ['aes', 'chachapoly']);
  const preferredRanges = strList(root.preferred_ranges, 'preferred_ranges', true).map((c, i) => cidr4(c, `preferred_ranges[${i}]`));
  if (root.local_range !== null && root.local_range !== undefined) {
    const lr = cidr4(str(root.local_range, 'local_range', ''), 'local_range');
    if (!preferredRanges.some((r) => r.ip === lr.ip && r.bits === lr.bits)) preferredRanges.push(lr);
  }
  const relay = parseRelay(ctx, root.relay);
  const stun = parseStun(ctx, root.stun);
  const tun = parseTun(ctx, root.tun);
  const logging = parseLogging(ctx, root.logging);
  const handshakes = parseHandshakes(ctx, root.handshakes);
  const timers = parseTimers(ctx, root.timers);
  const firewall = parseFirewallSection(ctx, root.firewall);

  let stats: Record<string, unknown> | null = null;
  if (root.stats !== null && root.stats !== undefined) {
    stats = section(root.stats, 'stats');
    if (Object.keys(stats).length > 0) ctx.warn('stats', 'metrics export (graphite/prometheus) is not supported by mesh, ignored');
  }
  let sshd: Record<string, unknown> | null = null;
  if (root.sshd !== null && root.sshd !== undefined) {
    sshd = section(root.sshd, 'sshd');
    if (bool(sshd.enabled, 'sshd.enabled', false)) ctx.warn('sshd', 'the admin ssh server is not supported by mesh, ignored');
  }

  const config: NodeConfig = {
    pki, staticHostMap, lighthouse, listen, routines, punchy, cipher, preferredRanges, relay, stun, tun, logging,
    handshakes, timers, firewall, stats, sshd,
  };
  return { config, warnings: ctx.warnings, raw, source };
}

function parsePki(ctx: Ctx, root: Obj): NodeConfig['pki'] {
  const p = section(root.pki, 'pki');
  checkKeys(ctx, p, 'pki', ['ca', 'cert', 'key', 'blocklist', 'blacklist', 'disconnect_invalid']);
  const required = (k: 'ca' | 'cert' | 'key'): string => {
    const v = p[k];
    if (v === null || v === undefined || v === '') throw new UserError(`config: pki.${k}: required (a file path or an inline PEM block)`);
    if (typeof v !== 'string') throw configError(`pki.${k}`, 'a file path or an inline PEM block', v);
    return v;
  };
  const fingerprint = (k: string) => (f: string, i: number) => {
    const s = f.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(s)) throw configError(`pki.${k}[${i}]`, 'a certificate fingerprint (64 hex digits)', f);
    return s;
  };
  const blocklist = strList(p.blocklist, 'pki.blocklist').map(fingerprint('blocklist'));
  if (p.blacklist !== null && p.blacklist !== undefined) {
    ctx.warn('pki.blacklist', 'deprecated, use pki.blocklist (entries merged)');
    for (const f of strList(p.blacklist, 'pki.blacklist').map(fingerprint('blacklist'))) if (!blocklist.includes(f)) blocklist.push(f);
  }
  return {
    ca: required('ca'),
    cert: required('cert'),
    key: required('key'),
    blocklist,
    disconnectInvalid: bool(p.disconnect_invalid, 'pki.disconnect_invalid', false),
  };
}

function parseStaticHostMap(v: unknown): Map<number, HostPort[]> {
  const m = section(v, 'static_host_map');
  const out = new Map<number, HostPort[]>();
  for (const [vpn, rawAddrs] of Object.entries(m)) {
    const key = `static_host_map."${vpn}"`;
    const vpnIp = ipv4(vpn, `static_host_map key "${vpn}"`);
    const list = strList(rawAddrs, key, true);
    if (list.length === 0) throw configError(key, 'one or more "host:port" addresses', rawAddrs);
    const addrs = list.map((a, i) => parseHostPort(a, `${key}[${i}]`, false));
    out.set(vpnIp, [...(out.get(vpnIp) ?? []), ...addrs]);
  }
  return out;
}

function parseListen(ctx: Ctx, v: unknown): NodeConfig['listen'] {
  const l = section(v, 'listen');
  checkKeys(ctx, l, 'listen', ['host', 'port', 'batch', 'read_buffer', 'write_buffer', 'send_recv_error']);
  let sendRecvError: SendRecvError = 'always';
  const sre = l.send_recv_error;
  if (sre !== null && sre !== undefined) {
    if (sre === 'always' || sre === 'never' || sre === 'private') sendRecvError = sre;
    else {
      try {
        sendRecvError = bool(sre, 'listen.send_recv_error', true) ? 'always' : 'never';
      } catch {
        throw configError('listen.send_recv_error', 'always, never, private (or a boolean)', sre);
      }
    }
  }
  let host = str(l.host, 'listen.host', '0.0.0.0');
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') throw configError('listen.host', 'an IP address', l.host);
  return {
    host,
    port: int(l.port, 'listen.port', 0, 0, 65535),
    batch: int(l.batch, 'listen.batch', 64, 1, 65535),
    readBuffer: int(l.read_buffer, 'listen.read_buffer', 0, 0),
    writeBuffer: int(l.write_buffer, 'listen.write_buffer', 0, 0),
    sendRecvError,
  };
}

function parseLighthouse(ctx: Ctx, v: unknown, staticHostMap: Map<number, HostPort[]>): NodeConfig['lighthouse'] {
  const l = section(v, 'lighthouse');
  checkKeys(ctx, l, 'lighthouse', [
    'am_lighthouse', 'interval', 'hosts', 'remote_allow_list', 'remote_allow_ranges', 'local_allow_list',
    'advertise_addrs', 'serve_dns', 'dns',
  ]);
  const amLighthouse = bool(l.am_lighthouse, 'lighthouse.am_lighthouse', false);
  const hosts = strList(l.hosts, 'lighthouse.hosts').map((h, i) => ipv4(h, `lighthouse.hosts[${i}]`));
  if (amLighthouse && hosts.length > 0) ctx.warn('lighthouse.hosts', 'should be empty on a lighthouse (am_lighthouse is true)');
  for (const [i, h] of hosts.entries()) {
    if (!staticHostMap.has(h)) {
      throw new UserError(`config: lighthouse.hosts[${i}]: lighthouse ${String(l.hosts && (l.hosts as unknown[])[i])} does not have a static_host_map entry`);
    }
  }
  const remoteAllowList = l.remote_allow_list == null ? null : parseAllowList(l.remote_allow_list, 'lighthouse.remote_allow_list');
  const remoteAllowRanges: RemoteAllowRange[] = [];
  for (const [inside, list] of Object.entries(section(l.remote_allow_ranges, 'lighthouse.remote_allow_ranges'))) {
    const key = `lighthouse.remote_allow_ranges."${inside}"`;
    remoteAllowRanges.push({ inside: cidr4(inside, `lighthouse.remote_allow_ranges key "${inside}"`), allowList: parseAllowList(list, key) });
  }
  const localAllowList = l.local_allow_list == null ? null : parseLocalAllowList(l.local_allow_list, 'lighthouse.local_allow_list');
  const advertiseAddrs = strList(l.advertise_addrs, 'lighthouse.advertise_addrs').map((a, i) =>
    parseHostPort(a, `lighthouse.advertise_addrs[${i}]`, true),
  );
  const serveDns = bool(l.serve_dns, 'lighthouse.serve_dns', false);
  const dns = section(l.dns, 'lighthouse.dns');
  checkKeys(ctx, dns, 'lighthouse.dns', ['host', 'port']);
  if (serveDns && !amLighthouse) ctx.warn('lighthouse.serve_dns', 'DNS is only served by lighthouses (am_lighthouse is false), ignored');
  return {
    amLighthouse,
    interval: seconds(l.interval, 'lighthouse.interval', 10),
    hosts,
    remoteAllowList,
    remoteAllowRanges,
    localAllowList,
    advertiseAddrs,
    serveDns,
    dns: { host: str(dns.host, 'lighthouse.dns.host', ''), port: int(dns.port, 'lighthouse.dns.port', 53, 0, 65535) },
  };
}

function parsePunchy(ctx: Ctx, root: Obj): NodeConfig['punchy'] {
  const p = root.punchy;
  let punch = false;
  let respond: boolean | null = null;
  let delay = 1000;
  let respondDelay = 5000;
  if (isMap(p)) {
    checkKeys(ctx, p, 'punchy', ['punch', 'respond', 'delay', 'respond_delay']);
    punch = bool(p.punch, 'punchy.punch', false);
    if (p.respond !== null && p.respond !== undefined) respond = bool(p.respond, 'punchy.respond', false);
    delay = duration(ctx, p.delay, 'punchy.delay', 1000);
    respondDelay = duration(ctx, p.respond_delay, 'punchy.respond_delay', 5000);
  } else if (p !== null && p !== undefined) {
    // Legacy form: "punchy: true".
    punch = bool(p, 'punchy', false);
  }
  if (respond === null) respond = bool(root.punch_back, 'punch_back', false);
  return { punch, respond, delay, respondDelay };
}

function parseRelay(ctx: Ctx, v: unknown): NodeConfig['relay'] {
  const r = section(v, 'relay');
  checkKeys(ctx, r, 'relay', ['relays', 'am_relay', 'use_relays']);
  const amRelay = bool(r.am_relay, 'relay.am_relay', false);
  const relays = strList(r.relays, 'relay.relays').map((h, i) => ipv4(h, `relay.relays[${i}]`));
  if (amRelay && relays.length > 0) ctx.warn('relay.relays', 'ignored because relay.am_relay is true');
  return { relays, amRelay, useRelays: bool(r.use_relays, 'relay.use_relays', true) };
}

function parseStun(ctx: Ctx, v: unknown): NodeConfig['stun'] {
  const s = section(v, 'stun');
  checkKeys(ctx, s, 'stun', ['alternate_port', 'interval']);
  return { alternatePort: int(s.alternate_port, 'stun.alternate_port', 0, 0, 65535), interval: seconds(s.interval, 'stun.interval', 60) };
}

function parseTun(ctx: Ctx, v: unknown): NodeConfig['tun'] {
  const t = section(v, 'tun');
  checkKeys(ctx, t, 'tun', ['disabled', 'dev', 'mtu', 'tx_queue', 'drop_local_broadcast', 'drop_multicast', 'routes', 'unsafe_routes']);
  const mtu = int(t.mtu, 'tun.mtu', 1300, 500, 65535);
  const dev = t.dev === null || t.dev === undefined || t.dev === '' ? null : str(t.dev, 'tun.dev', '');
  if (dev !== null && (dev.length > 15 || !/^[A-Za-z0-9_.%-]+$/.test(dev))) {
    throw configError('tun.dev', 'an interface name of at most 15 letters, digits, "_", "-", "." or "%d"', t.dev);
  }
  const routes = listOfMaps(t.routes, 'tun.routes').map(([r, key]): TunRoute => {
    checkKeys(ctx, r, key, ['mtu', 'route']);
    if (r.mtu === null || r.mtu === undefined) throw new UserError(`config: ${key}.mtu: required`);
    if (r.route === null || r.route === undefined) throw new UserError(`config: ${key}.route: required`);
    return { mtu: int(r.mtu, `${key}.mtu`, 0, 500, 65535), route: cidr4(r.route, `${key}.route`) };
  });
  const unsafeRoutes = listOfMaps(t.unsafe_routes, 'tun.unsafe_routes').map(([r, key]): UnsafeRoute => {
    checkKeys(ctx, r, key, ['route', 'via', 'mtu', 'metric', 'install']);
    if ('install' in r) ctx.warn(`${key}.install`, 'only exists in nebula 1.7+, ignored');
    if (r.via === null || r.via === undefined) throw new UserError(`config: ${key}.via: required`);
    if (r.route === null || r.route === undefined) throw new UserError(`config: ${key}.route: required`);
    const routeMtu = int(r.mtu, `${key}.mtu`, 0, 0, 65535);
    if (routeMtu !== 0 && routeMtu < 500) throw configError(`${key}.mtu`, 'an integer >= 500 (or 0 for tun.mtu)', r.mtu);
    return {
      route: cidr4(r.route, `${key}.route`),
      via: ipv4(r.via, `${key}.via`),
      mtu: routeMtu,
      metric: int(r.metric, `${key}.metric`, 0, 0, 2147483647),
    };
  });
  return {
    disabled: bool(t.disabled, 'tun.disabled', false),
    dev,
    mtu,
    txQueue: int(t.tx_queue, 'tun.tx_queue', 500, 0),
    dropLocalBroadcast: bool(t.drop_local_broadcast, 'tun.drop_local_broadcast', false),
    dropMulticast: bool(t.drop_multicast, 'tun.drop_multicast', false),
    routes,
    unsafeRoutes,
  };
}

function listOfMaps(v: unknown, key: string): Array<[Obj, string]> {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw configError(key, 'a list', v);
  return v.map((item, i) => {
    const k = `${key}[${i}]`;
    if (!isMap(item)) throw configError(k, 'a mapping', item);
    return [item, k];
  });
}

function parseLogging(ctx: Ctx, v: unknown): NodeConfig['logging'] {
  const l = section(v, 'logging');
  checkKeys(ctx, l, 'logging', ['level', 'format', 'disable_timestamp', 'timestamp_format']);
  let level = str(l.level, 'logging.level', 'info').toLowerCase();
  if (level === 'warn') level = 'warning';
  const levels: LogLevel[] = ['panic', 'fatal', 'error', 'warning', 'info', 'debug', 'trace'];
  if (!(levels as string[]).includes(level)) throw configError('logging.level', `one of ${levels.join(', ')}`, l.level);
  return {
    level: level as LogLevel,
    format: oneOf(l.format, 'logging.format', 'text', ['text', 'json'] as const),
    disableTimestamp: bool(l.disable_timestamp, 'logging.disable_timestamp', false),
    timestampFormat: str(l.timestamp_format, 'logging.timestamp_format', ''),
  };
}

function parseHandshakes(ctx: Ctx, v: unknown): NodeConfig['handshakes'] {
  const h = section(v, 'handshakes');
  checkKeys(ctx, h, 'handshakes', ['try_interval', 'retries', 'trigger_buffer']);
  const tryInterval = duration(ctx, h.try_interval, 'handshakes.try_interval', 100);
  if (tryInterval <= 0) throw configError('handshakes.try_interval', 'a duration greater than 0', h.try_interval);
  return {
    tryInterval,
    retries: int(h.retries, 'handshakes.retries', 10, 0),
    triggerBuffer: int(h.trigger_buffer, 'handshakes.trigger_buffer', 64, 1),
  };
}

function parseTimers(ctx: Ctx, v: unknown): NodeConfig['timers'] {
  const t = section(v, 'timers');
  checkKeys(ctx, t, 'timers', ['connection_alive_interval', 'pending_deletion_interval']);
  const a = seconds(t.connection_alive_interval, 'timers.connection_alive_interval', 5);
  const d = seconds(t.pending_deletion_interval, 'timers.pending_deletion_interval', 10);
  if (a <= 0) throw configError('timers.connection_alive_interval', 'a duration greater than 0', t.connection_alive_interval);
  if (d <= 0) throw configError('timers.pending_deletion_interval', 'a duration greater than 0', t.pending_deletion_interval);
  return { connectionAliveInterval: a, pendingDeletionInterval: d };
}

function parseFirewallSection(ctx: Ctx, v: unknown): NodeConfig['firewall'] {
  const f = section(v, 'firewall');
  checkKeys(ctx, f, 'firewall', ['conntrack', 'inbound', 'outbound']);
  const c = section(f.conntrack, 'firewall.conntrack');
  checkKeys(ctx, c, 'firewall.conntrack', ['tcp_timeout', 'udp_timeout', 'default_timeout', 'max_connections']);
  const positive = (ms: number, key: string, raw: unknown): number => {
    if (ms <= 0) throw configError(key, 'a duration greater than 0', raw);
    return ms;
  };
  const warnRule = (key: string, text: string): void => ctx.warn(key, text);
  return {
    conntrack: {
      tcpTimeout: positive(duration(ctx, c.tcp_timeout, 'firewall.conntrack.tcp_timeout', 12 * 60_000), 'firewall.conntrack.tcp_timeout', c.tcp_timeout),
      udpTimeout: positive(duration(ctx, c.udp_timeout, 'firewall.conntrack.udp_timeout', 3 * 60_000), 'firewall.conntrack.udp_timeout', c.udp_timeout),
      defaultTimeout: positive(
        duration(ctx, c.default_timeout, 'firewall.conntrack.default_timeout', 10 * 60_000),
        'firewall.conntrack.default_timeout',
        c.default_timeout,
      ),
      maxConnections: int(c.max_connections, 'firewall.conntrack.max_connections', DEFAULT_MAX_CONNECTIONS, 1),
    },
    inbound: parseFirewallRules(f.inbound, 'firewall.inbound', warnRule),
    outbound: parseFirewallRules(f.outbound, 'firewall.outbound', warnRule),
  };
}
