/**
 * The strict protobuf layer shared by Nebula's protobufs: nebula.proto (./messages.ts) and
 * cert.proto (pki/proto.ts).
 *
 * Their encoders and decoders are protobufjs's static code, generated from the .proto files by
 * scripts/proto.mjs (X.pb.js) together with the messages as data (X.schema.ts, a
 * {@link MessageSchema} per message). protobufjs decodes leniently: a known field that arrives
 * with the wrong wire type is silently treated as unknown, groups are skipped, and so on. Go
 * rejects such input, so {@link strictDecoder} first runs {@link checkWireTypes}, a strict pass
 * over the wire format, and only then lets protobufjs decode the values.
 */
import protobuf from 'protobufjs/minimal.js';

const { util } = protobuf;

// 64-bit fields decode exactly only as Longs, which protobufjs makes when it finds the `long`
// package (a bundle must keep it); else as numbers that lose bits above 2^53.
if (!util.Long) throw new Error('protobufjs found no `long` package: 64-bit fields would not decode exactly');

export class ProtobufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtobufError';
  }
}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;

// ---------------------------------------------------------------------------------------------
// Schemas

/** The scalar types of proto3 (an enum is an int32). */
export type ScalarType =
  | 'double'
  | 'float'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'fixed32'
  | 'sfixed32'
  | 'int64'
  | 'uint64'
  | 'sint64'
  | 'fixed64'
  | 'sfixed64'
  | 'bool'
  | 'string'
  | 'bytes';

/** A message of a .proto file as data: what scripts/proto.mjs writes to X.schema.ts. */
export interface MessageSchema {
  readonly name: string;
  readonly fields: readonly FieldSchema[];
}

export interface FieldSchema {
  readonly id: number;
  /** The field's name in the .proto file, which is its property in protobufjs's messages. */
  readonly name: string;
  readonly type: ScalarType | MessageSchema;
  readonly repeated?: boolean;
}

/** The wire type of each scalar type (protobufjs's types.basic, which its minimal build leaves out). */
export const SCALAR_WIRE_TYPES: Readonly<Record<ScalarType, number>> = {
  double: WIRE_FIXED64,
  float: WIRE_FIXED32,
  int32: WIRE_VARINT,
  uint32: WIRE_VARINT,
  sint32: WIRE_VARINT,
  fixed32: WIRE_FIXED32,
  sfixed32: WIRE_FIXED32,
  int64: WIRE_VARINT,
  uint64: WIRE_VARINT,
  sint64: WIRE_VARINT,
  fixed64: WIRE_FIXED64,
  sfixed64: WIRE_FIXED64,
  bool: WIRE_VARINT,
  string: WIRE_BYTES,
  bytes: WIRE_BYTES,
};

// ---------------------------------------------------------------------------------------------
// Strict wire-format validation

export interface FieldCheck {
  /** Field name, for error messages (and the name of an embedded message's content). */
  readonly name: string;
  /** Wire types accepted for the field (a repeated scalar accepts packed and unpacked). */
  readonly wire: readonly number[];
  /** A repeated field may occur any number of times. */
  readonly repeated?: boolean;
  /** Embedded message: its content is validated against this schema as well. */
  readonly message?: MessageCheck;
  /** The length-delimited form is a packed list of varints, each validated. */
  readonly packedVarints?: boolean;
  /** The length-delimited form must be valid UTF-8 (string fields). */
  readonly utf8?: boolean;
}

export interface MessageCheck {
  /** Message name, for error messages. */
  readonly name: string;
  /** Known fields by number; unknown fields are only checked for well-formedness. */
  readonly fields: Readonly<Record<number, FieldCheck>>;
}

export interface CheckOptions {
  /**
   * Reject a 10-byte varint whose last byte carries bits beyond 64 (golang/protobuf does;
   * gogo-protobuf's generated Unmarshal, used by Nebula's nebula.proto, silently drops them).
   */
  readonly rejectVarintOverflow?: boolean;
  /** Reject a second occurrence of a singular field (protobuf accepts it: last value wins, messages merge). */
  readonly rejectDuplicateFields?: boolean;
}

/**
 * Derives a {@link MessageCheck} from a message's schema: every known field accepts the wire type
 * of its declared type, repeated scalars other than strings and bytes also the packed form, string
 * fields must be UTF-8, embedded messages are checked recursively.
 */
export function wireChecksFor(schema: MessageSchema): MessageCheck {
  return buildChecks(schema, new Map());
}

function buildChecks(schema: MessageSchema, seen: Map<MessageSchema, MessageCheck>): MessageCheck {
  const cached = seen.get(schema);
  if (cached) return cached;
  const fields: Record<number, FieldCheck> = {};
  const check: MessageCheck = { name: schema.name, fields };
  seen.set(schema, check);
  for (const field of schema.fields) {
    const repeated = field.repeated ? { repeated: true } : {};
    if (typeof field.type !== 'string') {
      fields[field.id] = { name: field.name, wire: [WIRE_BYTES], ...repeated, message: buildChecks(field.type, seen) };
      continue;
    }
    const wire = SCALAR_WIRE_TYPES[field.type];
    const packable = field.repeated === true && wire !== WIRE_BYTES;
    fields[field.id] = {
      name: field.name,
      wire: packable ? [wire, WIRE_BYTES] : [wire],
      ...repeated,
      ...(packable && wire === WIRE_VARINT ? { packedVarints: true } : {}),
      ...(field.type === 'string' ? { utf8: true } : {}),
    };
  }
  return check;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** What an error names: the message `what`, or one of its fields. */
function culprit(what: string, rule?: FieldCheck, field?: number): string {
  if (field === undefined) return what;
  return rule ? `${what}.${rule.name}` : `${what} field ${field}`;
}

/** Length of the varint at `pos` (at most 10 bytes, as Go); throws when it is truncated or too long. */
function varintLength(buf: Uint8Array, pos: number, end: number, rejectOverflow: boolean, what: string, rule?: FieldCheck, field?: number): number {
  for (let i = 0; i < 10; i++) {
    if (pos + i >= end) throw new ProtobufError(`truncated varint in ${culprit(what, rule, field)}`);
    const b = buf[pos + i]!;
    if (b < 0x80) {
      if (i === 9 && b > 1 && rejectOverflow) throw new ProtobufError(`varint overflows 64 bits in ${culprit(what, rule, field)}`);
      return i + 1;
    }
  }
  throw new ProtobufError(`varint longer than 10 bytes in ${culprit(what, rule, field)}`);
}

/** The value of the `length`-byte varint at `pos`, exact up to 2^53 (tags and lengths need 35 bits). */
function varintValue(buf: Uint8Array, pos: number, length: number): number {
  let value = 0;
  for (let i = length - 1; i >= 0; i--) value = value * 0x80 + (buf[pos + i]! & 0x7f);
  return value;
}

/**
 * Strictly validates `bytes` as an encoded `schema` message: every tag and value is well formed and
 * in bounds, known fields carry an accepted wire type, embedded messages are valid, groups and
 * invalid wire types are rejected. Throws a {@link ProtobufError}; never reads out of bounds.
 */
export function checkWireTypes(bytes: Uint8Array, schema: MessageCheck, options: CheckOptions = {}): void {
  checkMessage(bytes, schema, schema.name, options, 0);
}

// Error texts name their culprit only when thrown: building them for every field would double the cost.
function checkMessage(buf: Uint8Array, schema: MessageCheck, what: string, options: CheckOptions, depth: number): void {
  if (depth > util.recursionLimit) throw new ProtobufError(`${what} is nested too deeply`);
  const rejectOverflow = options.rejectVarintOverflow === true;
  const seen = options.rejectDuplicateFields ? new Set<number>() : undefined;
  const end = buf.length;
  let pos = 0;
  while (pos < end) {
    const tagLength = varintLength(buf, pos, end, rejectOverflow, what);
    const tag = varintValue(buf, pos, tagLength);
    // Go refuses field numbers above 2^29 - 1, that is tags wider than 32 bits; longer encodings too.
    if (tagLength > 5 || tag > 0xffff_ffff) throw new ProtobufError(`invalid field tag in ${what}`);
    pos += tagLength;
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 0) throw new ProtobufError(`invalid field number 0 in ${what}`);
    const rule = schema.fields[field];
    if (rule) {
      if (!rule.wire.includes(wire)) throw new ProtobufError(`field ${what}.${rule.name} (${field}) has wrong wire type ${wire}`);
      if (seen && !rule.repeated) {
        if (seen.has(field)) throw new ProtobufError(`field ${what}.${rule.name} (${field}) appears more than once`);
        seen.add(field);
      }
    }
    switch (wire) {
      case WIRE_VARINT:
        pos += varintLength(buf, pos, end, rejectOverflow, what, rule, field);
        break;
      case WIRE_FIXED64:
      case WIRE_FIXED32: {
        const n = wire === WIRE_FIXED64 ? 8 : 4;
        if (n > end - pos) throw new ProtobufError(`truncated ${culprit(what, rule, field)}`);
        pos += n;
        break;
      }
      case WIRE_BYTES: {
        const lengthLength = varintLength(buf, pos, end, rejectOverflow, what, rule, field);
        if (lengthLength > 5) throw new ProtobufError(`length of ${culprit(what, rule, field)} is too large`);
        const len = varintValue(buf, pos, lengthLength);
        const from = pos + lengthLength;
        if (len > end - from) throw new ProtobufError(`truncated ${culprit(what, rule, field)}: needs ${len} bytes, ${end - from} left`);
        pos = from + len;
        if (!rule) break;
        const content = buf.subarray(from, pos);
        if (rule.message) checkMessage(content, rule.message, rule.name, options, depth + 1);
        if (rule.packedVarints) {
          for (let p = 0; p < content.length; ) p += varintLength(content, p, content.length, rejectOverflow, what, rule, field);
        }
        if (rule.utf8) {
          try {
            utf8Decoder.decode(content);
          } catch {
            throw new ProtobufError(`${culprit(what, rule, field)} contains invalid UTF-8`);
          }
        }
        break;
      }
      default:
        // 3/4 are proto2 groups (not valid in proto3 messages), 6/7 do not exist.
        throw new ProtobufError(`invalid wire type ${wire} for ${culprit(what, rule, field)}`);
    }
  }
}

/**
 * A decoder of `schema`'s message that runs {@link checkWireTypes} first, then `decode` (the
 * message's generated decode); every failure is a {@link ProtobufError}. Unknown fields are skipped.
 */
export function strictDecoder<T>(schema: MessageSchema, decode: (bytes: Uint8Array) => T, options: CheckOptions = {}): (bytes: Uint8Array) => T {
  const checks = wireChecksFor(schema);
  return (bytes) => {
    checkWireTypes(bytes, checks, options);
    try {
      return decode(bytes);
    } catch (err) {
      throw new ProtobufError(`${schema.name}: ${(err as Error).message}`);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Bytes

/** A decoded 64-bit field: a Long, since protobufjs found the `long` package (made sure above). */
export interface DecodedLong {
  low: number;
  high: number;
  unsigned: boolean;
}

/** A decoded 64-bit field's exact value, signed or not as the field is. */
export function longValue(value: DecodedLong): bigint {
  const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  return value.unsigned ? bits : BigInt.asIntN(64, bits);
}

/** A plain Uint8Array view of protobufjs output (a Buffer under Node). */
export function plainBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A copy of a decoded bytes field: protobufjs returns views into the input (and [] when unset). */
export function copyBytes(b: Uint8Array | readonly number[]): Uint8Array {
  return new Uint8Array(b);
}
