import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the first parent directory with a package.json), from dist/ or source. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the test file');
    dir = parent;
  }
  return dir;
}

export const FIXTURES = join(repoRoot(), 'test', 'fixtures', 'pki');

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}

export function fixtureText(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}

/** The JSON that `nebula-cert print -json` printed (in UTC) when the fixtures were made. */
export interface NebulaJson {
  details: {
    groups: string[];
    ips: string[];
    isCa: boolean;
    issuer: string;
    name: string;
    notAfter: string;
    notBefore: string;
    publicKey: string;
    subnets: string[];
  };
  fingerprint: string;
  signature: string;
}

export function fixtureJson(name: string): NebulaJson {
  return JSON.parse(fixtureText(`${name}.json`)) as NebulaJson;
}

/** Minimal protobuf writer for building malformed test inputs by hand. */
export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

export function field(num: number, wire: number, payload: number[] | Uint8Array): number[] {
  const tag = varint((num << 3) | wire);
  if (wire === 2) return [...tag, ...varint(payload.length), ...payload];
  return [...tag, ...payload];
}

export function bytes(...parts: (number[] | Uint8Array)[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}
