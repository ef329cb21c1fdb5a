/**
 * Enrollment tokens (`mesh ca token create`, `mesh join TOKEN`): one opaque string carrying the
 * enrollment service's address, the SHA-256 pin of its TLS certificate and a secret. The CA side
 * keeps only a hash of the secret, with what the token allows (groups, name, container subnet),
 * its expiry and its use count, in `ca.tokens.json` next to the CA key, changed under the ledger's
 * lock so that concurrent joins count uses exactly.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeFsError } from '../src/errors.js';
import { CertificateError } from './cert.js';

const TOKEN_PREFIX = 'meshjoin1.';

/** What a token string carries. */
export interface TokenContents {
  /** The service's advertised HOST:PORT. */
  server: string;
  /** Lower-case hex SHA-256 of the service's TLS certificate (DER). */
  pin: string;
  id: string;
  secret: string;
}

export type SubnetPolicy = 'auto' | 'none';

/** What the CA keeps about a token. */
export interface TokenRecord {
  id: string;
  /** Hex SHA-256 of the secret. */
  secretHash: string;
  createdAt: string;
  expiresAt: string;
  uses: number;
  used: number;
  groups: string[];
  /** The exact name a joining host gets; null: any (within namePrefix). */
  name: string | null;
  namePrefix: string | null;
  subnet: SubnetPolicy;
  revoked: boolean;
}

/** A refusal the service reports to the joining host (HTTP 4xx). */
export class EnrollmentError extends CertificateError {
  constructor(
    message: string,
    readonly status = 403,
  ) {
    super(message);
    this.name = 'EnrollmentError';
  }
}

const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function checkHostName(name: string): void {
  if (!HOST_NAME.test(name)) throw new EnrollmentError(`invalid host name "${name}": letters, digits, ".", "_" and "-", at most 63, starting with a letter or digit`, 400);
}

export function encodeToken(contents: TokenContents): string {
  return TOKEN_PREFIX + Buffer.from(JSON.stringify({ s: contents.server, p: contents.pin, i: contents.id, k: contents.secret })).toString('base64url');
}

export function decodeToken(text: string): TokenContents {
  const trimmed = text.trim();
  const invalid = () => new EnrollmentError('not a mesh join token (expected the string printed by `mesh ca token create`, starting with "meshjoin1.")', 400);
  if (!trimmed.startsWith(TOKEN_PREFIX)) throw invalid();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(Buffer.from(trimmed.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalid();
  }
  const { s, p, i, k } = parsed ?? {};
  if (typeof s !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(s) || typeof p !== 'string' || !/^[0-9a-f]{64}$/.test(p)) throw invalid();
  if (typeof i !== 'string' || !/^[0-9a-f]{16}$/.test(i) || typeof k !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(k)) throw invalid();
  return { server: s, pin: p, id: i, secret: k };
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface TokenOptions {
  uses: number;
  ttlMs: number;
  groups: string[];
  name: string | null;
  namePrefix: string | null;
  subnet: SubnetPolicy;
}

export function createToken(options: TokenOptions, now: Date): { record: TokenRecord; id: string; secret: string } {
  if (!Number.isInteger(options.uses) || options.uses < 1) throw new EnrollmentError('--uses must be a whole number of at least 1', 400);
  if (!(options.ttlMs > 0)) throw new EnrollmentError('--ttl must be greater than 0', 400);
  if (options.name !== null) checkHostName(options.name);
  if (options.name !== null && options.uses > 1) throw new EnrollmentError('--name gives every use the same name (and so the same IP); use --name-prefix for a token of several uses', 400);
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const record: TokenRecord = {
    id,
    secretHash: hashSecret(secret),
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + options.ttlMs).toISOString(),
    uses: options.uses,
    used: 0,
    groups: options.groups,
    name: options.name,
    namePrefix: options.namePrefix,
    subnet: options.subnet,
    revoked: false,
  };
  return { record, id, secret };
}

/** The token's record when the secret matches and a use is left; a clear refusal otherwise. */
export function checkToken(records: readonly TokenRecord[], id: string, secret: string, now: Date): TokenRecord {
  const record = records.find((r) => r.id === id);
  const given = Buffer.from(hashSecret(secret), 'hex');
  if (!record || !timingSafeEqual(given, Buffer.from(record.secretHash, 'hex'))) throw new EnrollmentError('the token is not known to this CA (mistyped, tampered with, or from another CA)');
  if (record.revoked) throw new EnrollmentError(`token ${id} was revoked`);
  if (now.getTime() >= Date.parse(record.expiresAt)) throw new EnrollmentError(`token ${id} expired at ${record.expiresAt}`);
  if (record.used >= record.uses) throw new EnrollmentError(`token ${id} is used up (${record.used} of ${record.uses} uses)`);
  return record;
}

/**
 * The name a host joining with this token gets: the token's, or the asked one if the token allows
 * it, or (nothing asked) the host's own name.
 */
export function nameFor(record: TokenRecord, asked: string | null, hostName: string | null): string {
  if (record.name !== null) {
    if (asked !== null && asked !== record.name) throw new EnrollmentError(`token ${record.id} is for the name "${record.name}", not "${asked}"`);
    return record.name;
  }
  asked ??= hostName;
  if (asked === null) throw new EnrollmentError('a name is required (mesh join --name NAME)', 400);
  checkHostName(asked);
  if (record.namePrefix !== null && !asked.startsWith(record.namePrefix)) throw new EnrollmentError(`token ${record.id} allows names starting with "${record.namePrefix}", not "${asked}"`);
  return asked;
}

export function markUsed(records: readonly TokenRecord[], id: string): TokenRecord[] {
  return records.map((r) => (r.id === id ? { ...r, used: r.used + 1 } : r));
}

export function tokensPathFor(caKeyPath: string): string {
  const base = basename(caKeyPath).replace(/\.key$/, '');
  return join(dirname(caKeyPath), `${base}.tokens.json`);
}

export function readTokens(path: string): TokenRecord[] {
  if (!existsSync(path)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CertificateError(`${path}: cannot read the token list: ${err instanceof SyntaxError ? err.message : describeFsError(err)}`);
  }
  const tokens = (parsed as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(tokens) || !tokens.every(isRecord)) throw new CertificateError(`${path}: not a token list (expected {"version":1,"tokens":[...]})`);
  return tokens;
}

function isRecord(t: unknown): t is TokenRecord {
  const o = t as Record<string, unknown> | null;
  return (
    !!o &&
    typeof o.id === 'string' &&
    typeof o.secretHash === 'string' &&
    /^[0-9a-f]{64}$/.test(o.secretHash) &&
    typeof o.expiresAt === 'string' &&
    typeof o.uses === 'number' &&
    typeof o.used === 'number' &&
    Array.isArray(o.groups) &&
    (o.subnet === 'auto' || o.subnet === 'none')
  );
}

/** Replaces the token list atomically; call it under the ledger's lock. */
export function writeTokens(path: string, tokens: readonly TokenRecord[]): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify({ version: 1, tokens }, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // never written
    }
    throw new CertificateError(`${path}: cannot write the token list: ${describeFsError(err)}`);
  }
}
