/**
 * The code generated from the .proto files (scripts/proto.mjs, `npm run proto`) is committed: it
 * must be what the script makes of the .proto files as they are, and the schema data the strict
 * wire check uses must describe the same messages as the .proto file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import * as certSchemas from '../../../pki/cert.schema.js';
import type { MessageSchema } from '../../../src/protocol/protobuf.js';
import * as nebulaSchemas from '../../../src/protocol/nebula.schema.js';
import { repoRoot } from '../pki/fixtures.js';

const ROOT = repoRoot();

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

describe('generated protobuf code', () => {
  it('is what scripts/proto.mjs makes of the .proto files (else: npm run proto)', { timeout: 120_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), 'mesh-proto-'));
    try {
      const run = spawnSync(process.execPath, ['scripts/proto.mjs', '--out', out], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      const generated = filesUnder(out).sort();
      assert.deepEqual(generated, ['pki/cert.pb.d.ts', 'pki/cert.pb.js', 'pki/cert.schema.ts', 'src/protocol/nebula.pb.d.ts', 'src/protocol/nebula.pb.js', 'src/protocol/nebula.schema.ts']);
      for (const file of generated) assert.ok(readFileSync(join(out, file), 'utf8') === readFileSync(join(ROOT, file), 'utf8'), `${file} is stale: run npm run proto`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  for (const [proto, schemas] of [
    ['src/protocol/nebula.proto', nebulaSchemas],
    ['pki/cert.proto', certSchemas],
  ] as const) {
    it(`describes the messages of ${proto} in its schema data`, () => {
      const root = new protobuf.Root().loadSync(join(ROOT, proto), { keepCase: true });
      root.resolveAll();
      const types: protobuf.Type[] = [];
      const walk = (namespace: protobuf.NamespaceBase) => {
        for (const nested of namespace.nestedArray) {
          if (nested instanceof protobuf.Type) types.push(nested);
          if (nested instanceof protobuf.Namespace) walk(nested);
        }
      };
      walk(root);
      const byName: Record<string, MessageSchema> = schemas;
      assert.deepEqual(Object.keys(byName).sort(), types.map((type) => type.name).sort());
      for (const type of types) {
        const schema = byName[type.name]!;
        assert.equal(schema.name, type.name);
        const expected = type.fieldsArray
          .map((field) => ({
            id: field.id,
            name: field.name,
            // An enum is an int32, on the wire and in range.
            type: field.resolvedType instanceof protobuf.Type ? byName[field.resolvedType.name] : field.resolvedType instanceof protobuf.Enum ? 'int32' : field.type,
            ...(field.repeated ? { repeated: true } : {}),
          }))
          .sort((a, b) => a.id - b.id);
        assert.deepEqual(schema.fields, expected, type.name);
        for (const field of schema.fields) if (typeof field.type !== 'string') assert.ok(field.type === byName[field.type.name], `${type.name}.${field.name} embeds the schema object of ${field.type.name}`);
      }
    });
  }
});
