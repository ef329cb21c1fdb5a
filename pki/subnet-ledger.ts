/**
 * The allocation ledger: which container subnet and which overlay IP the CA handed to which host,
 * so that `mesh ca sign --subnets auto` never hands out a subnet twice and enrollment (`mesh join`)
 * never hands out an IP twice. It is a small JSON file next to the CA key (`ca.key` →
 * `ca.subnets.json`), written atomically under a lock file so that two signings at once cannot
 * pick the same subnet or IP.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cidrContains, cidrsOverlap, formatCidr, formatIp, networkOf, parseCidr, parseIp, type Cidr } from '../src/net/ipv4.js';
import { describeFsError } from '../src/errors.js';
import { CertificateError } from './cert.js';

export interface LedgerEntry {
  subnet: string;
  name: string;
  /** ISO time of the signing. */
  at: string;
}

/** An overlay IP handed to a host (by `mesh ca sign` or by enrollment). */
export interface AddressEntry {
  ip: string;
  name: string;
  /** ISO time of the signing. */
  at: string;
  /** The enrollment token it was handed out with; absent for `mesh ca sign`. */
  token?: string;
}

export interface LedgerState {
  subnets: LedgerEntry[];
  addresses: AddressEntry[];
}

interface LedgerFile {
  version: 1;
  allocations: LedgerEntry[];
  /** Absent in ledgers written before overlay IPs were recorded. */
  addresses?: AddressEntry[];
}

/** Size of the subnets `--subnets auto` hands out. */
export const AUTO_SUBNET_BITS = 24;
const LOCK_WAIT_MS = 5000;
const LOCK_STALE_MS = 30_000;

export function ledgerPathFor(caKeyPath: string): string {
  const base = basename(caKeyPath).replace(/\.key$/, '');
  return join(dirname(caKeyPath), `${base}.subnets.json`);
}

export function readLedger(path: string): LedgerEntry[] {
  return readLedgerState(path).subnets;
}

export function readLedgerState(path: string): LedgerState {
  if (!existsSync(path)) return { subnets: [], addresses: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CertificateError(`${path}: cannot read the subnet ledger: ${err instanceof SyntaxError ? err.message : describeFsError(err)}`);
  }
  const allocations = (parsed as Partial<LedgerFile> | null)?.allocations;
  const addresses = (parsed as Partial<LedgerFile> | null)?.addresses ?? [];
  if (!Array.isArray(allocations) || !allocations.every(isEntry) || !Array.isArray(addresses) || !addresses.every(isAddressEntry)) {
    throw new CertificateError(`${path}: not a subnet ledger (expected {"version":1,"allocations":[{"subnet","name","at"}...],"addresses":[{"ip","name","at"}...]})`);
  }
  return { subnets: allocations, addresses };
}

function isAddressEntry(e: unknown): e is AddressEntry {
  const o = e as Record<string, unknown> | null;
  if (!o || typeof o.ip !== 'string' || typeof o.name !== 'string' || typeof o.at !== 'string') return false;
  try {
    parseIp(o.ip);
    return true;
  } catch {
    return false;
  }
}

function isEntry(e: unknown): e is LedgerEntry {
  const o = e as Record<string, unknown> | null;
  if (!o || typeof o.subnet !== 'string' || typeof o.name !== 'string' || typeof o.at !== 'string') return false;
  try {
    parseCidr(o.subnet);
    return true;
  } catch {
    return false;
  }
}

/**
 * The subnet for `name`: the one it already holds (a renewed certificate keeps its containers'
 * addresses), else the lowest free /24 inside the CA's subnets that overlaps nothing handed out.
 */
export function chooseSubnet(caSubnets: readonly Cidr[], entries: readonly LedgerEntry[], name: string): Cidr {
  const held = entries.find((e) => e.name === name);
  if (held) return parseCidr(held.subnet);
  if (caSubnets.length === 0) {
    throw new CertificateError('--subnets auto: the CA has no subnets to allocate from; create the CA with --subnets (e.g. 10.200.0.0/16) or pass explicit --subnets');
  }
  const taken = entries.map((e) => parseCidr(e.subnet));
  for (const range of caSubnets) {
    if (range.bits > AUTO_SUBNET_BITS) continue;
    const first = networkOf(range);
    const count = 2 ** (AUTO_SUBNET_BITS - range.bits);
    for (let i = 0; i < count; i++) {
      const candidate: Cidr = { ip: (first + i * 2 ** (32 - AUTO_SUBNET_BITS)) >>> 0, bits: AUTO_SUBNET_BITS };
      if (!taken.some((t) => cidrsOverlap(t, candidate))) return candidate;
    }
  }
  throw new CertificateError(`--subnets auto: every /${AUTO_SUBNET_BITS} in the CA's subnets (${caSubnets.map(formatCidr).join(', ')}) is handed out`);
}

/** Refuses explicit subnets that another host already holds. */
export function checkNotHandedOut(subnets: readonly Cidr[], entries: readonly LedgerEntry[], name: string): void {
  for (const s of subnets) {
    const other = entries.find((e) => e.name !== name && cidrsOverlap(parseCidr(e.subnet), s));
    if (other) throw new CertificateError(`subnet ${formatCidr(s)} overlaps ${other.subnet}, handed to "${other.name}" on ${other.at} (see the ledger; use another subnet or --subnets auto)`);
  }
}

/**
 * The overlay IP for `name`: the one it already holds (a renewal keeps its address), else the
 * lowest host address of `network` that nobody holds and that is not in `reserved` (addresses
 * in use outside the ledger, such as the lighthouses of the node template).
 */
export function chooseAddress(network: Cidr, state: LedgerState, name: string, reserved: readonly number[] = []): Cidr {
  const held = state.addresses.find((e) => e.name === name);
  if (held) {
    const ip = parseIp(held.ip);
    if (cidrContains(network, ip)) return { ip, bits: network.bits };
  }
  if (network.bits > 30) throw new CertificateError(`network ${formatCidr(network)} has no room for hosts`);
  const taken = new Set<number>([...state.addresses.map((e) => parseIp(e.ip)), ...reserved]);
  const first = networkOf(network);
  const size = 2 ** (32 - network.bits);
  // The network and broadcast addresses are never handed out.
  for (let i = 1; i < size - 1; i++) {
    const ip = (first + i) >>> 0;
    if (!taken.has(ip)) return { ip, bits: network.bits };
  }
  throw new CertificateError(`every address in ${formatCidr(network)} is handed out (see the ledger)`);
}

/** Records `ip` for `name`, replacing the address the name held before. */
export function recordAddress(entries: readonly AddressEntry[], name: string, ip: number, now: Date, token?: string): AddressEntry[] {
  return [...entries.filter((e) => e.name !== name), { ip: formatIp(ip), name, at: now.toISOString(), ...(token === undefined ? {} : { token }) }];
}

/** The name that holds `ip` in the ledger, other than `name`; undefined when none does. */
export function addressHolder(entries: readonly AddressEntry[], ip: number, name: string): AddressEntry | undefined {
  return entries.find((e) => e.name !== name && parseIp(e.ip) === ip);
}

/**
 * Runs `fn` with the ledger locked and saves the state it returns. The lock is a file created
 * exclusively; one older than 30 s is taken to be left over from a crash. Other CA state kept
 * next to the ledger (enrollment tokens) is changed under the same lock.
 */
export function withLedger<T>(path: string, fn: (state: LedgerState) => { state: LedgerState; result: T }): T {
  const lock = `${path}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new CertificateError(`${lock}: cannot lock the subnet ledger: ${describeFsError(err)}`);
      if (lockAge(lock) > LOCK_STALE_MS) {
        unlinkQuietly(lock);
        continue;
      }
      if (Date.now() > deadline) throw new CertificateError(`${lock}: the subnet ledger is locked by another signing; try again (or remove the lock if no signing runs)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
  try {
    const { state, result } = fn(readLedgerState(path));
    const temp = `${path}.${process.pid}.tmp`;
    const file: LedgerFile = { version: 1, allocations: state.subnets, addresses: state.addresses };
    try {
      writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
      renameSync(temp, path);
    } catch (err) {
      unlinkQuietly(temp);
      throw new CertificateError(`${path}: cannot write the subnet ledger: ${describeFsError(err)}`);
    }
    return result;
  } finally {
    unlinkQuietly(lock);
  }
}

function lockAge(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Records `subnets` for `name`, replacing what the name held before. */
export function recordSubnets(entries: readonly LedgerEntry[], name: string, subnets: readonly Cidr[], now: Date): LedgerEntry[] {
  const kept = entries.filter((e) => e.name !== name);
  return [...kept, ...subnets.map((s) => ({ subnet: formatCidr({ ip: networkOf(s), bits: s.bits }), name, at: now.toISOString() }))];
}
