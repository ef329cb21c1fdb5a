/**
 * The protobuf layer of Nebula 1.6 certificates (`cert/cert.proto`, proto3).
 *
 * The schema is defined in code (nothing is read from disk at run time) and decoded with the strict
 * decoder of src/protocol/protobuf.ts, because protobufjs alone is lenient.
 *
 * Canonical encoding (what Nebula signs and hashes): fields in ascending order, packed repeated
 * uint32, proto3 zero values omitted. protobufjs does all three for a proto3 schema.
 */
import protobuf from 'protobufjs';
import { copyBytes, plainBytes, ProtobufError, strictDecoder } from '../src/protocol/protobuf.js';

const { root } = protobuf.parse(`
  syntax = "proto3";
  package cert;
  message RawNebulaCertificate {
    RawNebulaCertificateDetails Details = 1;
    bytes Signature = 2;
  }
  message RawNebulaCertificateDetails {
    string Name = 1;
    repeated uint32 Ips = 2;
    repeated uint32 Subnets = 3;
    repeated string Groups = 4;
    int64 NotBefore = 5;
    int64 NotAfter = 6;
    bytes PublicKey = 7;
    bool IsCA = 8;
    bytes Issuer = 9;
  }
`);

const CertType = root.lookupType('cert.RawNebulaCertificate');
const DetailsType = root.lookupType('cert.RawNebulaCertificateDetails');

// What is signed and hashed must be unambiguous: no bits beyond 64, no field given twice (Go would
// keep the last one).
const decodeCertificate = strictDecoder(CertType, { rejectVarintOverflow: true, rejectDuplicateFields: true });

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

/** As protobufjs decodes it: unset fields read as the proto3 zero values. */
interface DecodedDetails {
  Name: string;
  Ips: number[];
  Subnets: number[];
  Groups: string[];
  NotBefore: protobuf.Long | number;
  NotAfter: protobuf.Long | number;
  PublicKey: Uint8Array;
  IsCA: boolean;
  Issuer: Uint8Array;
}

interface DecodedCert {
  Details: DecodedDetails | null;
  Signature: Uint8Array;
}

/** A decoded int64 (a Long) as a number, when it is exactly one. */
function toSafeNumber(value: protobuf.Long | number, what: string): number {
  const n = Number(String(value));
  if (!Number.isSafeInteger(n)) throw new ProtobufError(`${what} is out of range`);
  return n;
}

/** Strictly decodes the protobuf bytes of a RawNebulaCertificate. Unknown fields are dropped. */
export function decodeRawCertificate(bytes: Uint8Array): RawCertificate {
  if (bytes.length === 0) throw new ProtobufError('empty certificate data');
  const decoded = decodeCertificate(bytes) as unknown as DecodedCert;
  const d = decoded.Details;
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

function detailsMessage(d: RawDetails): protobuf.Message {
  return DetailsType.create({
    Name: d.name,
    Ips: d.ips,
    Subnets: d.subnets,
    Groups: d.groups,
    NotBefore: d.notBefore,
    NotAfter: d.notAfter,
    PublicKey: d.publicKey,
    IsCA: d.isCA,
    Issuer: d.issuer,
  });
}

export function encodeRawDetails(d: RawDetails): Uint8Array {
  return plainBytes(DetailsType.encode(detailsMessage(d)).finish());
}

export function encodeRawCertificate(c: RawCertificate): Uint8Array {
  // Details is always written, even when empty, as Go's proto.Marshal writes the non-nil message.
  return plainBytes(CertType.encode(CertType.create({ Details: detailsMessage(c.details), Signature: c.signature })).finish());
}
