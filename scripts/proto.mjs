/**
 * Generates the code of mesh's protobufs from their .proto files (`npm run proto`), as Nebula's
 * `make proto` generates nebula.pb.go; the output is committed. For each X.proto, next to it:
 * - X.pb.js and X.pb.d.ts: protobufjs's static code (protobufjs-cli's `pbjs -t static-module`)
 *   on protobufjs/minimal: the messages' encode and decode, no reflection and no .proto parser at
 *   run time. Only what mesh uses: no create, verify, from/toObject, delimited forms or services.
 * - X.schema.ts: the messages as data (field numbers, names, types), from which
 *   src/protocol/protobuf.ts derives its strict wire check and messages.ts its value checks.
 *
 * `--out DIR` writes the files into DIR instead: test/unit/protocol/proto-generated.test.ts
 * compares them with the committed ones.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cli from 'protobufjs-cli';
import protobuf from 'protobufjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The .proto files, from the repository root. */
const PROTO_FILES = ['src/protocol/nebula.proto', 'pki/cert.proto'];

/** Where the schema files import MessageSchema from, relative to the root. */
const SCHEMA_TYPES = 'src/protocol/protobuf.ts';

const PBJS_OPTIONS = ['--target', 'static-module', '--wrap', 'esm', '--keep-case', '--no-create', '--no-verify', '--no-convert', '--no-delimited', '--no-service', '--no-typeurl', '--dts'];

/** Runs pbjs on `proto`, writing `out` (.pb.js) and its .pb.d.ts. */
function pbjs(proto, out) {
  return new Promise((done, fail) => cli.pbjs.main([...PBJS_OPTIONS, '--out', out, proto], (err) => (err ? fail(err) : done())));
}

/** The messages of `protoRoot` (nested ones too), each after the messages it embeds. */
function messagesInDependencyOrder(protoRoot) {
  const ordered = [];
  const visiting = new Set();
  const visit = (type) => {
    if (ordered.includes(type)) return;
    if (visiting.has(type)) throw new Error(`${type.fullName} embeds itself: a schema file cannot declare it`);
    visiting.add(type);
    for (const field of type.fieldsArray) if (field.resolvedType instanceof protobuf.Type) visit(field.resolvedType);
    ordered.push(type);
  };
  const walk = (namespace) => {
    for (const nested of namespace.nestedArray) {
      if (nested instanceof protobuf.Type) visit(nested);
      if (nested instanceof protobuf.Namespace) walk(nested);
    }
  };
  walk(protoRoot);
  const names = ordered.map((type) => type.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice) throw new Error(`two messages named ${twice}: a schema file names each once`);
  return ordered;
}

/** A field as schema data: its type is a scalar type (an enum is an int32, on the wire and in range) or a message. */
function fieldEntry(type, field) {
  if (field.map) throw new Error(`${type.name}.${field.name}: map fields are not supported`);
  const resolved = field.resolvedType;
  let fieldType;
  if (resolved instanceof protobuf.Type) fieldType = resolved.name;
  else {
    const scalar = resolved instanceof protobuf.Enum ? 'int32' : field.type;
    if (protobuf.types.basic[scalar] === undefined) throw new Error(`${type.name}.${field.name}: unsupported type ${field.type}`);
    fieldType = `'${scalar}'`;
  }
  return `{ id: ${field.id}, name: '${field.name}', type: ${fieldType}${field.repeated ? ', repeated: true' : ''} }`;
}

/** The text of X.schema.ts for the .proto file at `proto` (relative to the root). */
function schemaSource(proto) {
  const protoRoot = new protobuf.Root().loadSync(resolve(root, proto), { keepCase: true });
  protoRoot.resolveAll();
  let typesImport = relative(dirname(proto), SCHEMA_TYPES).replace(/\.ts$/, '.js');
  if (!typesImport.startsWith('.')) typesImport = `./${typesImport}`;
  const lines = [
    `// Generated from ${basename(proto)} by scripts/proto.mjs (npm run proto): do not edit.`,
    '// The messages as data: what the strict wire check and the value checks know of them.',
    `import type { MessageSchema } from '${typesImport}';`,
  ];
  for (const type of messagesInDependencyOrder(protoRoot)) {
    lines.push('', `export const ${type.name}: MessageSchema = {`, `  name: '${type.name}',`, '  fields: [');
    for (const field of [...type.fieldsArray].sort((a, b) => a.id - b.id)) lines.push(`    ${fieldEntry(type, field)},`);
    lines.push('  ],', '};');
  }
  return `${lines.join('\n')}\n`;
}

const { values } = parseArgs({ options: { out: { type: 'string' } } });
for (const proto of PROTO_FILES) {
  const outDir = values.out === undefined ? resolve(root, dirname(proto)) : resolve(values.out, dirname(proto));
  const name = basename(proto, '.proto');
  await mkdir(outDir, { recursive: true });
  await pbjs(resolve(root, proto), join(outDir, `${name}.pb.js`));
  await writeFile(join(outDir, `${name}.schema.ts`), schemaSource(proto));
}
