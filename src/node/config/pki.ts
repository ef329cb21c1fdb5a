/** pki: where the CA, the host certificate and its key come from, and which certificates are refused. */
import { bool, field, type Field, list, optional, section, text } from './schema.js';
import { configError, isAbsent, keyError } from './values.js';

export interface PkiConfig {
  /** Path or inline PEM, as written. */
  ca: string;
  cert: string;
  key: string;
  /** Lower-case hex certificate fingerprints (pki.blocklist plus the deprecated pki.blacklist). */
  blocklist: string[];
  disconnectInvalid: boolean;
  /** mesh key: a CA-signed revocation list (`mesh ca revoke`) this node applies and hands to every host; '' = none. */
  revocations: string;
  /**
   * Certificate version this node's handshakes start with (pki.initiating_version, Nebula 1.10+);
   * null: as Nebula, 1 when pki.cert holds a v1 certificate, else 2.
   */
  initiatingVersion?: 1 | 2 | null;
}

function pathOrPem(key: string): Field<string> {
  return field(key, (value, path) => {
    if (isAbsent(value) || value === '') throw keyError(path, 'required (a file path or an inline PEM block)');
    if (typeof value !== 'string') throw configError(path, 'a file path or an inline PEM block', value);
    return value;
  });
}

function fingerprint(text: string, path: string): string {
  const s = text.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(s)) throw configError(path, 'a certificate fingerprint (64 hex digits)', text);
  return s;
}

export const pkiSection = section(
  'pki',
  {
    ca: pathOrPem('ca'),
    cert: pathOrPem('cert'),
    key: pathOrPem('key'),
    blocklist: list('blocklist', fingerprint),
    blacklist: optional(list('blacklist', fingerprint)),
    disconnectInvalid: bool('disconnect_invalid', false),
    revocations: text('revocations', ''),
    initiatingVersion: optional(field('initiating_version', (value, path) => {
      // Nebula reads it as an int, so "2" counts too.
      const version = typeof value === 'string' ? Number(value.trim()) : value;
      if (version !== 1 && version !== 2) throw configError(path, 'a certificate version, 1 or 2', value);
      return version;
    })),
  },
  {
    finish: ({ blacklist, ...pki }, warnings, _raw, path): PkiConfig => {
      if (blacklist !== null) {
        warnings.add(`${path}.blacklist`, 'deprecated, use pki.blocklist (entries merged)');
        for (const f of blacklist) if (!pki.blocklist.includes(f)) pki.blocklist.push(f);
      }
      return pki;
    },
  },
);
