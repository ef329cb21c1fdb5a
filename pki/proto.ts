/**
 * The protobuf layer of Nebula 1.6 certificates (`cert/cert.proto`, proto3).
 *
 * The schema is defined in code with protobufjs reflection, so nothing is read from disk at run
 * time. protobufjs alone is lenient (it accepts wrong wire types for some fields, groups, invalid
 * UTF-8, ...), so decoding first runs a strict pass over the wire format with protobufjs' Reader and
 * only then lets protobufjs decode the values.
 *
 * Canonical encoding (what Nebula signs and hashes): fields in ascending order, packed repeated
 * uint32, proto3 zero values omitted. protobufjs writes fields in id order and writes a field only
 * when the property is present, so the encoder below leaves every zero/empty value unset.
 */
import protobuf from 'protobufjs';

const { Reader, Root, util } = protobuf;

export class ProtoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoError';
  }
}

const root = Root.fromJSON({
  nested: {
    cert: {
      nested: {
        RawNebulaCertificate: {
          fields: {
            Details: { type: 'RawNebulaCertificateDetails', id: 1 },
            Signature: { type: 'bytes', id: 2 },
          },
        },
        RawNebulaCertificateDetails: {
          fields: {
            Name: { type: 'string', id: 1 },
            Ips: { rule: 'repeated', type: 'uint32', id: 2, options: { packed: true } },
            Subnets: { rule: 'repeated', type: 'uint32', id: 3, options: { packed: true } },
            Groups: { rule: 'repeated', type: 'string', id: 4 },
            NotBefore: { type: 'int64', id: 5 },
            NotAfter: { type: 'int64', id: 6 },
            PublicKey: { type: 'bytes', id: 7 },
            IsCA: { type: 'bool', id: 8 },
            Issuer: { type: 'bytes', id: 9 },
          },
        },
      },
    },
  },
});

const CertType = root.lookupType('cert.RawNebulaCertificate');
const DetailsType = root.lookupType('cert.RawNebulaCertificateDetails');

/** The protobuf message with plain JS values; zero values are represented as such. */
export interface RawDetails {
  name: string;
  ips: number[];
  subnets: number[];
  groups: string[];
  notBefore: number;
  notAfter: number;
  publicKey: Uint8Array;
  isCA: boolean;
  issuer: Uint8Array;
}

export interface RawCertificate {
  details: RawDetails;
  signature: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Strict wire-format validation

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

interface FieldRule {
  name: string;
  /** Accepted wire types. */
  wire: readonly number[];
  repeated?: boolean;
  utf8?: boolean;
  /** Packed list of varints, validated element by element. */
  packedVarints?: boolean;
  message?: Record<number, FieldRule>;
}

const DETAILS_RULES: Record<number, FieldRule> = {
  1: { name: 'Name', wire: [WIRE_BYTES], utf8: true },
  // Repeated scalars: proto parsers accept both the packed and the unpacked form (Go does).
  2: { name: 'Ips', wire: [WIRE_BYTES, WIRE_VARINT], repeated: true, packedVarints: true },
  3: { name: 'Subnets', wire: [WIRE_BYTES, WIRE_VARINT], repeated: true, packedVarints: true },
  4: { name: 'Groups', wire: [WIRE_BYTES], repeated: true, utf8: true },
  5: { name: 'NotBefore', wire: [WIRE_VARINT] },
  6: { name: 'NotAfter', wire: [WIRE_VARINT] },
  7: { name: 'PublicKey', wire: [WIRE_BYTES] },
  8: { name: 'IsCA', wire: [WIRE_VARINT] },
  9: { name: 'Issuer', wire: [WIRE_BYTES] },
};

const CERT_RULES: Record<number, FieldRule> = {
  1: { name: 'Details', wire: [WIRE_BYTES], message: DETAILS_RULES },
  2: { name: 'Signature', wire: [WIRE_BYTES] },
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a varint of at most 10 bytes (as Go does); returns the number of bytes consumed. */
function skipVarint(buf: Uint8Array, pos: number, end: number, what: string): number {
  for (let i = 0; i < 10; i++) {
    if (pos + i >= end) throw new ProtoError(`truncated varint in ${what}`);
    if ((buf[pos + i]! & 0x80) === 0) {
      if (i === 9 && buf[pos + i]! > 1) throw new ProtoError(`varint overflows 64 bits in ${what}`);
      return i + 1;
    }
  }
  throw new ProtoError(`varint longer than 10 bytes in ${what}`);
}

function validateMessage(buf: Uint8Array, start: number, end: number, rules: Record<number, FieldRule>, what: string): void {
  const reader = Reader.create(buf.subarray(start, end));
  const seen = new Set<number>();
  while (reader.pos < reader.len) {
    const tagLen = skipVarint(reader.buf, reader.pos, reader.len, what);
    if (tagLen > 5) throw new ProtoError(`invalid field tag in ${what}`);
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 0) throw new ProtoError(`invalid field number 0 in ${what}`);
    const rule = rules[field];
    if (rule) {
      if (!rule.wire.includes(wire)) {
        throw new ProtoError(`field ${what}.${rule.name} (${field}) has wrong wire type ${wire}`);
      }
      if (!rule.repeated) {
        if (seen.has(field)) throw new ProtoError(`field ${what}.${rule.name} (${field}) appears more than once`);
        seen.add(field);
      }
    }
    const label = rule ? `${what}.${rule.name}` : `${what} field ${field}`;
    switch (wire) {
      case WIRE_VARINT:
        reader.pos += skipVarint(reader.buf, reader.pos, reader.len, label);
        break;
      case WIRE_FIXED64:
        if (reader.pos + 8 > reader.len) throw new ProtoError(`truncated ${label}`);
        reader.pos += 8;
        break;
      case WIRE_FIXED32:
        if (reader.pos + 4 > reader.len) throw new ProtoError(`truncated ${label}`);
        reader.pos += 4;
        break;
      case WIRE_BYTES: {
        const lenBytes = skipVarint(reader.buf, reader.pos, reader.len, label);
        if (lenBytes > 5) throw new ProtoError(`length of ${label} is too large`);
        const len = reader.uint32();
        const from = reader.pos;
        if (len > reader.len - from) throw new ProtoError(`truncated ${label}: needs ${len} bytes, ${reader.len - from} left`);
        const to = from + len;
        if (rule?.message) validateMessage(reader.buf, from, to, rule.message, rule.name);
        if (rule?.utf8) {
          try {
            utf8.decode(reader.buf.subarray(from, to));
          } catch {
            throw new ProtoError(`${label} contains invalid UTF-8`);
          }
        }
        if (rule?.packedVarints) {
          let p = from;
          while (p < to) p += skipVarint(reader.buf, p, to, label);
        }
        reader.pos = to;
        break;
      }
      default:
        // 3/4 are the deprecated groups (not valid in proto3 messages), 6/7 do not exist.
        throw new ProtoError(`invalid wire type ${wire} for ${label}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decode / encode

function toSafeNumber(value: unknown, what: string): number {
  if (typeof value === 'number') return value;
  if (util.Long && value instanceof util.Long) {
    const long = value as unknown as { toString(): string };
    const n = Number(long.toString());
    if (!Number.isSafeInteger(n)) throw new ProtoError(`${what} is out of range`);
    return n;
  }
  throw new ProtoError(`${what} has an unexpected type`);
}

interface DecodedDetails {
  Name?: string;
  Ips?: number[];
  Subnets?: number[];
  Groups?: string[];
  NotBefore?: unknown;
  NotAfter?: unknown;
  PublicKey?: Uint8Array;
  IsCA?: boolean;
  Issuer?: Uint8Array;
}

interface DecodedCert {
  Details?: DecodedDetails;
  Signature?: Uint8Array;
}

function copyBytes(b: Uint8Array | undefined): Uint8Array {
  return b ? Uint8Array.from(b) : new Uint8Array(0);
}

/** Strictly decodes the protobuf bytes of a RawNebulaCertificate. Unknown fields are dropped. */
export function decodeRawCertificate(bytes: Uint8Array): RawCertificate {
  if (bytes.length === 0) throw new ProtoError('empty certificate data');
  validateMessage(bytes, 0, bytes.length, CERT_RULES, 'RawNebulaCertificate');
  let decoded: DecodedCert;
  try {
    decoded = CertType.decode(bytes) as unknown as DecodedCert;
  } catch (err) {
    throw new ProtoError(`invalid protobuf: ${(err as Error).message}`);
  }
  const d = decoded.Details;
  if (!d) throw new ProtoError('encoded Details was nil');
  return {
    details: {
      name: d.Name ?? '',
      ips: (d.Ips ?? []).map((v) => v >>> 0),
      subnets: (d.Subnets ?? []).map((v) => v >>> 0),
      groups: [...(d.Groups ?? [])],
      notBefore: d.NotBefore === undefined ? 0 : toSafeNumber(d.NotBefore, 'NotBefore'),
      notAfter: d.NotAfter === undefined ? 0 : toSafeNumber(d.NotAfter, 'NotAfter'),
      publicKey: copyBytes(d.PublicKey),
      isCA: d.IsCA === true,
      issuer: copyBytes(d.Issuer),
    },
    signature: copyBytes(decoded.Signature),
  };
}

function detailsMessage(d: RawDetails): protobuf.Message {
  // Only set what is not a proto3 default: protobufjs writes every property that is present.
  const obj: Record<string, unknown> = {};
  if (d.name !== '') obj['Name'] = d.name;
  if (d.ips.length > 0) obj['Ips'] = d.ips.map((v) => v >>> 0);
  if (d.subnets.length > 0) obj['Subnets'] = d.subnets.map((v) => v >>> 0);
  if (d.groups.length > 0) obj['Groups'] = [...d.groups];
  if (d.notBefore !== 0) obj['NotBefore'] = d.notBefore;
  if (d.notAfter !== 0) obj['NotAfter'] = d.notAfter;
  if (d.publicKey.length > 0) obj['PublicKey'] = d.publicKey;
  if (d.isCA) obj['IsCA'] = true;
  if (d.issuer.length > 0) obj['Issuer'] = d.issuer;
  return DetailsType.create(obj);
}

/** A plain Uint8Array view (protobufjs returns a Buffer under Node). */
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function encodeRawDetails(d: RawDetails): Uint8Array {
  return plain(DetailsType.encode(detailsMessage(d)).finish());
}

export function encodeRawCertificate(c: RawCertificate): Uint8Array {
  // Go's proto.Marshal always writes a non-nil Details message, even when it is empty.
  const obj: Record<string, unknown> = { Details: detailsMessage(c.details) };
  if (c.signature.length > 0) obj['Signature'] = c.signature;
  return plain(CertType.encode(CertType.create(obj)).finish());
}
