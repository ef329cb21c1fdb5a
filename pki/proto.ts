/**
 * The protobuf layer of Nebula 1.6 certificates (cert.proto, proto3).
 *
 * The encoder and decoder are protobufjs's static code generated from cert.proto (cert.pb.js,
 * scripts/proto.mjs); decoding runs the strict wire check of src/protocol/protobuf.ts first,
 * because protobufjs alone is lenient.
 *
 * Canonical encoding (what Nebula signs and hashes): fields in ascending order, packed repeated
 * uint32, proto3 zero values omitted. protobufjs's generated encoder does all three for a proto3
 * schema.
 */
import { copyBytes, longValue, plainBytes, ProtobufError, strictDecoder, type DecodedLong } from '../src/protocol/protobuf.js';
import { cert } from './cert.pb.js';
import * as schemas from './cert.schema.js';

// What is signed and hashed must be unambiguous: no bits beyond 64, no field given twice (Go would
// keep the last one).
const decodeCertificate = strictDecoder(schemas.RawNebulaCertificate, (bytes) => cert.RawNebulaCertificate.decode(bytes), {
  rejectVarintOverflow: true,
  rejectDuplicateFields: true,
});

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

/** A decoded int64 (a Long, see DecodedLong) as a number, when it is exactly one. */
function toSafeNumber(value: unknown, what: string): number {
  const n = Number(longValue(value as DecodedLong));
  if (!Number.isSafeInteger(n)) throw new ProtobufError(`${what} is out of range`);
  return n;
}

/** Strictly decodes the protobuf bytes of a RawNebulaCertificate. Unknown fields are dropped. */
export function decodeRawCertificate(bytes: Uint8Array): RawCertificate {
  if (bytes.length === 0) throw new ProtobufError('empty certificate data');
  const decoded = decodeCertificate(bytes);
  // The decoder makes each message an instance, whose unset fields read as the proto3 zero values.
  const d = decoded.Details as cert.RawNebulaCertificateDetails | null;
  if (!d) throw new ProtobufError('encoded Details was nil');
  return {
    details: {
      name: d.Name,
      ips: [...d.Ips],
      subnets: [...d.Subnets],
      groups: [...d.Groups],
      notBefore: toSafeNumber(d.NotBefore, 'NotBefore'),
      notAfter: toSafeNumber(d.NotAfter, 'NotAfter'),
      publicKey: copyBytes(d.PublicKey),
      isCA: d.IsCA,
      issuer: copyBytes(d.Issuer),
    },
    signature: copyBytes(decoded.Signature),
  };
}

function detailsMessage(d: RawDetails): cert.RawNebulaCertificateDetails.$Properties {
  return {
    Name: d.name,
    Ips: d.ips,
    Subnets: d.subnets,
    Groups: d.groups,
    NotBefore: d.notBefore,
    NotAfter: d.notAfter,
    PublicKey: d.publicKey,
    IsCA: d.isCA,
    Issuer: d.issuer,
  };
}

export function encodeRawDetails(d: RawDetails): Uint8Array {
  return plainBytes(cert.RawNebulaCertificateDetails.encode(detailsMessage(d)).finish());
}

export function encodeRawCertificate(c: RawCertificate): Uint8Array {
  // Details is always written, even when empty, as Go's proto.Marshal writes the non-nil message.
  return plainBytes(cert.RawNebulaCertificate.encode({ Details: detailsMessage(c.details), Signature: c.signature }).finish());
}
