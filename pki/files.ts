/**
 * Writing output files without leaving anything half-written behind: every file is written to a
 * temporary file in the same directory, synced, then moved into place. Without `force`, existing
 * files are never replaced (the move is a hard link, which fails if the target exists).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeFsError } from '../src/errors.js';
import { CertificateError } from './cert.js';

export interface OutputFile {
  path: string;
  data: string | Uint8Array;
  /** File mode; nebula-cert writes everything 0600. */
  mode?: number;
  /** Used in "refusing to overwrite existing <what>: <path>". */
  what: string;
}

export class OutputExistsError extends CertificateError {}

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

function tryUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Moves temp to path unless path exists (atomically where the file system supports hard links). */
function placeExclusively(temp: string, path: string): void {
  try {
    linkSync(temp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    if (existsSync(path)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    renameSync(temp, path);
    return;
  }
  unlinkSync(temp);
}

/** Refuses (throws) when any of the outputs exists and force is not set. */
export function checkOutputsAbsent(files: readonly Pick<OutputFile, 'path' | 'what'>[], force: boolean): void {
  if (force) return;
  for (const f of files) {
    if (existsSync(f.path)) throw new OutputExistsError(`refusing to overwrite existing ${f.what}: ${f.path}`);
  }
}

/**
 * Writes all files, or none: on failure, the files this call already put in place are removed
 * again (files replaced with `force` cannot be restored) and temporary files are deleted.
 */
export function writeOutputFiles(files: readonly OutputFile[], force: boolean): void {
  checkOutputsAbsent(files, force);
  const temps: string[] = [];
  const placed: string[] = [];
  try {
    for (const f of files) {
      const temp = tempPathFor(f.path);
      let fd: number;
      try {
        fd = openSync(temp, 'wx', f.mode ?? 0o600);
      } catch (err) {
        throw new CertificateError(`${f.path}: cannot write: ${describeFsError(err)}`);
      }
      temps.push(temp);
      try {
        const data = typeof f.data === 'string' ? Buffer.from(f.data, 'utf8') : f.data;
        let off = 0;
        while (off < data.length) off += writeSync(fd, data, off, data.length - off);
        fsyncSync(fd);
      } catch (err) {
        throw new CertificateError(`${f.path}: cannot write: ${describeFsError(err)}`);
      } finally {
        closeSync(fd);
      }
    }
    files.forEach((f, i) => {
      const temp = temps[i]!;
      try {
        if (force) renameSync(temp, f.path);
        else placeExclusively(temp, f.path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new OutputExistsError(`refusing to overwrite existing ${f.what}: ${f.path}`);
        throw new CertificateError(`${f.path}: cannot write: ${describeFsError(err)}`);
      }
      placed.push(f.path);
    });
  } catch (err) {
    for (const t of temps) tryUnlink(t);
    if (!force) for (const p of placed) tryUnlink(p);
    throw err;
  }
}
