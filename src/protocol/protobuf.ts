/**
 * Shared helpers around protobufjs for Nebula's protobufs.
 *
 * protobufjs decodes leniently: a known field that arrives with the wrong wire type is silently
 * treated as unknown, groups are skipped, and so on. Go (gogo-protobuf) rejects such input, so
 * decoders first run {@link checkWireTypes}, a strict pass over the wire format built on protobufjs'
 * {@link protobuf.Reader}, and only then let protobufjs decode the values.
 *
 * uint64/int64 fields decode to `Long` (protobufjs uses the `long` package); {@link longToBigint}
 * and {@link bigintToLong} convert exactly in both directions.
 */
import protobuf from 'protobufjs';

const { Reader, util } = protobuf;

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
// Strict wire-format validation

export interface FieldCheck {
  /** Field name, for error messages. */
  readonly name: string;
  /** Wire types accepted for the field (a repeated scalar accepts packed and unpacked). */
  readonly wire: readonly number[];
  /** Embedded message: its content is validated against this schema as well. */
  readonly message?: MessageCheck;
  /** The length-delimited form is a packed list of varints, each validated. */
  readonly packedVarints?: boolean;
  /** The length-delimited form must be valid UTF-8 (string fields). */
  readonly utf8?: boolean;
  /** Reject a second occurrence (protobuf itself accepts it: last value wins, messages merge). */
  readonly unique?: boolean;
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
   * Default false.
   */
  readonly rejectVarintOverflow?: boolean;
  /** Maximum nesting depth of embedded messages. Default 32. */
  readonly maxDepth?: number;
}

/**
 * Derives a {@link MessageCheck} from a protobufjs reflection type: every known field accepts the
 * wire type of its declared type, repeated packable scalars also the packed form, string fields
 * must be UTF-8, embedded messages are checked recursively.
 */
export function wireChecksFor(type: protobuf.Type): MessageCheck {
  return buildChecks(type, new Map());
}

function buildChecks(type: protobuf.Type, seen: Map<protobuf.Type, MessageCheck>): MessageCheck {
  const cached = seen.get(type);
  if (cached) return cached;
  const fields: Record<number, FieldCheck> = {};
  const check: MessageCheck = { name: type.name, fields };
  seen.set(type, check);
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.map) throw new Error(`${type.name}.${field.name}: map fields are not supported`);
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      fields[field.id] = { name: field.name, wire: [WIRE_BYTES], message: buildChecks(resolved, seen) };
      continue;
    }
    const scalar = resolved instanceof protobuf.Enum ? 'int32' : field.type;
    const basic = (protobuf.types.basic as Record<string, number | undefined>)[scalar];
    if (basic === undefined) throw new Error(`${type.name}.${field.name}: unsupported type ${field.type}`);
    const packable = field.repeated && (protobuf.types.packed as Record<string, number | undefined>)[scalar] !== undefined;
    fields[field.id] = {
      name: field.name,
      wire: packable ? [basic, WIRE_BYTES] : [basic],
      ...(packable && basic === WIRE_VARINT ? { packedVarints: true } : {}),
      ...(scalar === 'string' ? { utf8: true } : {}),
    };
  }
  return check;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Length of the varint at `pos` (at most 10 bytes); throws when it is truncated or too long. */
function varintLength(buf: Uint8Array, pos: number, end: number, rejectOverflow: boolean, what: string): number {
  for (let i = 0; i < 10; i++) {
    if (pos + i >= end) throw new ProtobufError(`truncated varint in ${what}`);
    const b = buf[pos + i]!;
    if (b < 0x80) {
      if (i === 9 && b > 1 && rejectOverflow) throw new ProtobufError(`varint overflows 64 bits in ${what}`);
      return i + 1;
    }
  }
  throw new ProtobufError(`varint longer than 10 bytes in ${what}`);
}

/**
 * Strictly validates `bytes` as an encoded `schema` message: every tag and value is well formed and
 * in bounds, known fields carry an accepted wire type, embedded messages are valid, groups and
 * invalid wire types are rejected. Throws a {@link ProtobufError}; never reads out of bounds.
 */
export function checkWireTypes(bytes: Uint8Array, schema: MessageCheck, options: CheckOptions = {}): void {
  const ctx = { rejectOverflow: options.rejectVarintOverflow === true, maxDepth: options.maxDepth ?? 32 };
  try {
    checkMessage(bytes, schema, ctx, 0);
  } catch (err) {
    if (err instanceof ProtobufError) throw err;
    // protobufjs' Reader throws plain Errors/RangeErrors on malformed tags and lengths.
    throw new ProtobufError(`${schema.name}: ${(err as Error).message}`);
  }
}

interface CheckContext {
  rejectOverflow: boolean;
  maxDepth: number;
}

function checkMessage(bytes: Uint8Array, schema: MessageCheck, ctx: CheckContext, depth: number): void {
  if (depth > ctx.maxDepth) throw new ProtobufError(`${schema.name}: messages nested too deeply`);
  const reader = Reader.create(bytes);
  const seen = new Set<number>();
  while (reader.pos < reader.len) {
    // Reader.tag() rejects truncated tags and tags longer than 5 bytes / above 32 bits.
    const tag = reader.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 0) throw new ProtobufError(`${schema.name}: invalid field number 0`);
    const rule = schema.fields[field];
    if (rule) {
      if (!rule.wire.includes(wire)) {
        throw new ProtobufError(`${schema.name}: wrong wire type ${wire} for field ${rule.name} (${field})`);
      }
      if (rule.unique) {
        if (seen.has(field)) throw new ProtobufError(`${schema.name}: field ${rule.name} (${field}) appears more than once`);
        seen.add(field);
      }
    }
    const label = rule ? `${schema.name}.${rule.name}` : `${schema.name} field ${field}`;
    switch (wire) {
      case WIRE_VARINT:
        reader.pos += varintLength(reader.buf, reader.pos, reader.len, ctx.rejectOverflow, label);
        break;
      case WIRE_FIXED64:
      case WIRE_FIXED32: {
        const n = wire === WIRE_FIXED64 ? 8 : 4;
        if (n > reader.len - reader.pos) throw new ProtobufError(`truncated ${label}`);
        reader.pos += n;
        break;
      }
      case WIRE_BYTES: {
        const len = reader.size();
        const from = reader.pos;
        if (len > reader.len - from) throw new ProtobufError(`truncated ${label}: needs ${len} bytes, ${reader.len - from} left`);
        const to = from + len;
        reader.pos = to;
        if (!rule) break;
        const content = reader.buf.subarray(from, to);
        if (rule.message) checkMessage(content, rule.message, ctx, depth + 1);
        if (rule.packedVarints) {
          for (let p = 0; p < content.length; ) p += varintLength(content, p, content.length, ctx.rejectOverflow, label);
        }
        if (rule.utf8) {
          try {
            utf8Decoder.decode(content);
          } catch {
            throw new ProtobufError(`${label} contains invalid UTF-8`);
          }
        }
        break;
      }
      default:
        // 3/4 are proto2 groups (not valid in proto3 messages), 6/7 do not exist.
        throw new ProtobufError(`${label}: invalid wire type ${wire}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 64-bit integers

const U32 = 0x1_0000_0000n;

/**
 * A protobufjs 64-bit value (Long, or a number when `long` is unavailable; null/undefined for an
 * unset field) as an exact bigint. Unsigned unless `signed`.
 */
export function longToBigint(value: protobuf.Long | number | null | undefined, signed = false): bigint {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new ProtobufError(`64-bit value ${value} lost precision`);
    return signed ? BigInt.asIntN(64, BigInt(value)) : BigInt.asUintN(64, BigInt(value));
  }
  const bits = BigInt(value.high >>> 0) * U32 + BigInt(value.low >>> 0);
  return signed ? BigInt.asIntN(64, bits) : bits;
}

/** An exact bigint as a protobufjs Long; throws a ProtobufError when it does not fit (u)int64. */
export function bigintToLong(value: bigint, signed = false): protobuf.Long {
  const fits = signed ? BigInt.asIntN(64, value) === value : BigInt.asUintN(64, value) === value;
  if (!fits) throw new ProtobufError(`${value} is not a${signed ? 'n int64' : ' uint64'}`);
  if (!util.Long) throw new ProtobufError('the "long" package is required for 64-bit fields');
  const bits = BigInt.asUintN(64, value);
  return new util.Long(Number(bits & (U32 - 1n)) | 0, Number(bits >> 32n) | 0, !signed);
}

/** A plain Uint8Array view of protobufjs output (a Buffer under Node). */
export function plainBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
