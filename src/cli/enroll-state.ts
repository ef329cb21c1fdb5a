/**
 * The enrollment service's state next to the CA key (`ca.key` → `ca.serve.json`), written by
 * `mesh ca serve` on its first start and read by `mesh ca token create` for the address and pin
 * it puts into tokens. Kept apart from the service so that token commands load nothing heavy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeFsError, UserError } from '../errors.js';

/** What `mesh ca token create` needs from a service that has started once. */
export interface ServiceState {
  advertise: string;
  /** Hex SHA-256 of the TLS certificate (DER). */
  pin: string;
  tlsCert: string;
  tlsKey: string;
  /** Hex X25519 private key; its public half goes into the joined hosts' `enrollment.service_key`. */
  serviceKey: string;
}

export function servicePathFor(caKeyPath: string): string {
  return join(dirname(caKeyPath), `${basename(caKeyPath).replace(/\.key$/, '')}.serve.json`);
}

export function readServiceState(path: string): ServiceState | null {
  if (!existsSync(path)) return null;
  let state: Partial<ServiceState>;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as Partial<ServiceState>;
  } catch (err) {
    throw new UserError(`${path}: cannot read the enrollment service state: ${err instanceof SyntaxError ? err.message : describeFsError(err)}`);
  }
  for (const key of ['advertise', 'pin', 'tlsCert', 'tlsKey', 'serviceKey'] as const) {
    if (typeof state[key] !== 'string') throw new UserError(`${path}: not an enrollment service state (no "${key}")`);
  }
  return state as ServiceState;
}

