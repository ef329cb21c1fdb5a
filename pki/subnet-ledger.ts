/**
 * The subnet ledger: which container subnet the CA handed to which host, so that
 * `mesh ca sign --subnets auto` never hands out a subnet twice. It is a small JSON file next to the
 * CA key (`ca.key` → `ca.subnets.json`), written atomically under a lock file so that two signings
 * at once cannot pick the same subnet.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cidrsOverlap, formatCidr, networkOf, parseCidr, type Cidr } from '../src/net/ipv4.js';
import { describeFsError } from '../src/errors.js';
import { CertificateError } from './cert.js';

export interface LedgerEntry {
  subnet: string;
  name: string;
  /** ISO time of the signing. */
  at: string;
}

interface LedgerFile {
  version: 1;
  allocations: LedgerEntry[];
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
  if (!existsSync(path)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CertificateError(`${path}: cannot read the subnet ledger: ${err instanceof SyntaxError ? err.message : describeFsError(err)}`);
  }
  const allocations = (parsed as Partial<LedgerFile> | null)?.allocations;
  if (!Array.isArray(allocations) || !allocations.every(isEntry)) {
    throw new CertificateError(`${path}: not a subnet ledger (expected {"version":1,"allocations":[{"subnet","name","at"}...]})`);
  }
  return allocations;
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
 * Runs `fn` with the ledger locked and saves what it returns. The lock is a file created
 * exclusively; one older than 30 s is taken to be left over from a crash.
 */
export function withLedger<T>(path: string, fn: (entries: LedgerEntry[]) => { entries: LedgerEntry[]; result: T }): T {
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
    const { entries, result } = fn(readLedger(path));
    const temp = `${path}.${process.pid}.tmp`;
    const file: LedgerFile = { version: 1, allocations: entries };
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
