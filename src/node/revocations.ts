/**
 * Revocation lists a node holds (a mesh extension): at most one per trusted CA, the newest seen,
 * from `pki.revocations` or pushed by a peer (NebulaMeta MeshRevocations). A list counts only when
 * a CA this node trusts signed it; an older or equal version is ignored, so a replayed list cannot
 * undo a revocation. What they revoke, together with pki.blocklist, is the node's blocklist.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { CAPool } from '../../pki/ca-pool.js';
import { decodeRevocationList, encodeRevocationList, parseRevocationListPem, verifyRevocationList, type RevocationList } from '../../pki/revocation.js';
import { UserError } from '../errors.js';

/** Reads `pki.revocations`; a list not signed by a CA in `pool` is a UserError. */
export function readRevocationFile(path: string, pool: CAPool): RevocationList {
  try {
    const list = parseRevocationListPem(readFileSync(path));
    verifyRevocationList(list, pool);
    return list;
  } catch (err) {
    throw new UserError(`pki.revocations: ${path}: ${(err as Error).message}`);
  }
}

export interface RevocationDeps {
  readonly log: Logger;
  /** The CAs trusted now (lists must be signed by one of them). */
  caPool(): CAPool;
}

interface HeldList {
  list: RevocationList;
  encoded: Uint8Array;
}

export class Revocations {
  private readonly lists = new Map<string, HeldList>();

  constructor(private readonly deps: RevocationDeps) {}

  /** Every fingerprint revoked by the lists held. */
  revoked(): Set<string> {
    const all = new Set<string>();
    for (const { list } of this.lists.values()) for (const f of list.fingerprints) all.add(f);
    return all;
  }

  /** The lists held, encoded as they travel. */
  encodedLists(): Uint8Array[] {
    return [...this.lists.values()].map((h) => h.encoded);
  }

  /** A list read by readRevocationFile. True when it was newer than the one held. */
  hold(list: RevocationList, path: string): boolean {
    return this.take(list, encodeRevocationList(list), `file ${path}`);
  }

  /** A list a peer pushed: kept when valid, trusted and newer; anything else is ignored. True when kept. */
  receive(bytes: Uint8Array, from: string): boolean {
    let list: RevocationList;
    try {
      list = decodeRevocationList(bytes);
      verifyRevocationList(list, this.deps.caPool());
    } catch (err) {
      this.deps.log.debug({ from, reason: (err as Error).message }, 'revocation list refused');
      return false;
    }
    return this.take(list, Uint8Array.from(bytes), from);
  }

  /** After a reload: drops the lists of CAs no longer trusted. True when one was dropped. */
  reverify(): boolean {
    let dropped = false;
    for (const [issuer, { list }] of this.lists) {
      try {
        verifyRevocationList(list, this.deps.caPool());
      } catch {
        this.lists.delete(issuer);
        dropped = true;
      }
    }
    return dropped;
  }

  private take(list: RevocationList, encoded: Uint8Array, from: string): boolean {
    const held = this.lists.get(list.issuer);
    if (held && held.list.version >= list.version) return false;
    this.lists.set(list.issuer, { list, encoded });
    this.deps.log.info({ from, issuer: list.issuer, version: list.version, revoked: list.fingerprints.length }, 'revocation list updated');
    return true;
  }
}
