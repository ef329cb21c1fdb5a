/**
 * Codecs for Nebula's control-plane protobufs (nebula.proto, proto3):
 *   NebulaHandshake / NebulaHandshakeDetails  (handshake payload, §2.4)
 *   NebulaMeta / NebulaMetaDetails            (lighthouse, §5.1)
 *   NebulaControl                             (relay setup, §6.2)
 *
 * Encoders emit what Go emits (ascending fields, zeros omitted, packed repeated uint32, Details
 * always present). Decoders accept any field order, skip unknown fields, merge repeated embedded
 * messages like Go, and throw an Error (ProtobufError) on malformed input.
 *
 * The messages are defined in nebula.proto, and their field names are the properties of this
 * module's objects. The encoders and decoders are protobufjs's static code generated from it
 * (nebula.pb.js, scripts/proto.mjs), which does the proto3 encoding (fields in id order, repeated
 * scalars packed, zero values left out). What protobufjs does not do is checked here, from the
 * same file's schema data (nebula.schema.ts): values that do not fit their field type (it would
 * wrap them), and on decoding the strict wire format (./protobuf.ts; it would skip known fields
 * with wrong wire types).
 */
import { formatIp6, parseIp6, type VpnAddr } from '../net/ip.js';
import { formatIp, parseIp } from '../net/ipv4.js';
import { nebula } from './nebula.pb.js';
import * as schemas from './nebula.schema.js';
import { copyBytes, longValue, plainBytes, ProtobufError, strictDecoder, type DecodedLong, type FieldSchema, type MessageSchema, type ScalarType } from './protobuf.js';

export { ProtobufError } from './protobuf.js';

/** NebulaMeta.MessageType (nebula.proto): what a lighthouse message asks or tells. */
export const MetaType = nebula.NebulaMeta.MessageType;

/** MeshNatMapping values (RFC 4787 mapping behaviour); endpoint-dependent is what Nebula users call a symmetric NAT. */
export const NAT_MAPPINGS = ['unknown', 'endpoint-independent', 'endpoint-dependent'] as const;
export type NatMapping = (typeof NAT_MAPPINGS)[number];

/**
 * Tunnels in one MeshTunnelsReport: capped (not chunked) so the report stays one datagram below a
 * 1280-byte underlay MTU (at most 24 bytes per tunnel); MeshTunnelsTotal says how many there are.
 */
export const MAX_REPORTED_TUNNELS = 40;

/** One tunnel in a MeshTunnelsReport. */
export interface MeshTunnel {
  peerIp: number;
  /** The relay the tunnel goes through; 0 when direct. */
  relayIp: number;
  /** Last measured round trip in microseconds; 0 when not measured yet. */
  rttMicros: number;
  /** Seconds since the tunnel came up. */
  ageSeconds: number;
}

/** Bounds of a published name (a container, alias or `<service>.<project>`) that nodes and lighthouses keep. */
export const MAX_MESH_NAME_LENGTH = 127;
/** Addresses one host publishes for one name: a name with all of them still fits one datagram. */
export const MAX_MESH_NAME_IPS = 200;

/** NebulaControl.MessageType (nebula.proto): the relay setup messages. */
export const ControlType = nebula.NebulaControl.MessageType;

type Plain = Record<string, unknown>;

/** A generated message type: protobufjs's static encode and decode. */
interface MessageCode {
  encode(message: object): { finish(): Uint8Array };
  decode(bytes: Uint8Array): object;
}

/** The field types whose values protobufjs would wrap silently; Go's types refuse them. */
const VALUE_RANGES: Partial<Record<ScalarType, { fits: (value: unknown) => boolean; expected: string }>> = {
  uint32: { fits: (value) => (value as number) >>> 0 === value, expected: 'a uint32' },
  int32: { fits: (value) => ((value as number) | 0) === value, expected: 'an int32' },
  uint64: { fits: (value) => BigInt.asUintN(64, value as bigint) === value, expected: 'a uint64' },
};

/**
 * `plain` as protobufjs's encoder takes it: every value checked against its field type, uint64
 * bigints as the bits of a Long (which protobufjs writes exactly).
 */
function encodable(schema: MessageSchema, plain: Plain): Plain {
  const message: Plain = {};
  for (const field of schema.fields) {
    const value = plain[field.name];
    if (value === undefined) continue;
    message[field.name] = field.repeated ? (value as unknown[]).map((item) => encodableValue(field, item)) : encodableValue(field, value);
  }
  return message;
}

function encodableValue(field: FieldSchema, value: unknown): unknown {
  if (typeof field.type !== 'string') return encodable(field.type, value as Plain);
  const range = VALUE_RANGES[field.type];
  if (range && !range.fits(value)) throw new ProtobufError(`${field.name}: ${value} is not ${range.expected}`);
  if (field.type !== 'uint64') return value;
  const bits = value as bigint;
  return { low: Number(BigInt.asIntN(32, bits)), high: Number(BigInt.asIntN(32, bits >> 32n)), unsigned: true };
}

function encode(code: MessageCode, schema: MessageSchema, plain: object): Uint8Array {
  return plainBytes(code.encode(encodable(schema, plain as Plain)).finish());
}

/**
 * A decoded message as a plain object: unset fields read as their proto3 zero values (a message as
 * null), uint64 as exact bigints.
 */
function plainObject(schema: MessageSchema, message: Plain): Plain {
  const plain: Plain = {};
  for (const field of schema.fields) {
    // Unset fields are the defaults on the message's prototype.
    const value = message[field.name];
    plain[field.name] = field.repeated ? (value as unknown[]).map((item) => plainValue(field, item)) : plainValue(field, value);
  }
  return plain;
}

function plainValue(field: FieldSchema, value: unknown): unknown {
  if (typeof field.type !== 'string') return value === null ? null : plainObject(field.type, value as Plain);
  if (field.type !== 'uint64') return value;
  return longValue(value as DecodedLong);
}

/** A strict decoder of `schema`'s message to a plain object; Nebula drops a message without Details. */
function plainDecoder<T>(code: MessageCode, schema: MessageSchema): (bytes: Uint8Array) => T {
  const decode = strictDecoder(schema, (bytes) => code.decode(bytes) as Plain);
  const detailsRequired = schema.fields.some((field) => field.name === 'details');
  return (bytes) => {
    const plain = plainObject(schema, decode(bytes));
    if (detailsRequired && !plain['details']) throw new ProtobufError(`${schema.name}: Details missing`);
    return plain as T;
  };
}

/** A Nebula 1.10+ Addr (IPv6 layout; IPv4 is stored mapped, ::ffff:a.b.c.d). */
interface Addr {
  hi: bigint;
  lo: bigint;
}

/**
 * Which overlay-address fields a lighthouse or relay message carries: 'v1' the uint32 fields of
 * Nebula 1.6 (a v1 tunnel; IPv4 only), 'v2' the 128-bit Addr fields (a v2 tunnel), as Nebula 1.10+
 * chooses per tunnel.
 */
export type AddrForm = 'v1' | 'v2';

const MASK64 = (1n << 64n) - 1n;

function addrOf(a: VpnAddr): Addr {
  return typeof a === 'number' ? { hi: 0n, lo: 0xffff00000000n | BigInt(a >>> 0) } : { hi: a >> 64n, lo: a & MASK64 };
}

/** The address in an Addr: IPv4-mapped as a number, IPv6 as a bigint; 0 for none. */
function vpnAddrOfAddr(addr: Addr | null): VpnAddr {
  if (!addr || (addr.hi === 0n && addr.lo === 0n)) return 0;
  if (addr.hi === 0n && addr.lo >> 32n === 0xffffn) return Number(addr.lo & 0xffffffffn);
  return (addr.hi << 64n) | addr.lo;
}

/** An address for a uint32 field of a v1 message; IPv6 has none. */
function uint32Of(a: VpnAddr, field: string): number {
  if (typeof a !== 'number') throw new ProtobufError(`${field}: an IPv6 address cannot be sent on a v1 tunnel`);
  return a;
}

// ---------------------------------------------------------------------------------------------
// Handshake

export interface HandshakeDetails {
  cert: Uint8Array;
  initiatorIndex: number;
  responderIndex: number;
  cookie: bigint;
  /** Unix nanoseconds, exact. */
  time: bigint;
  /** Nebula 1.10+ (field 8): the version of `cert`, 1 or 2; absent (Nebula before 1.10) means 1. */
  certVersion?: number;
}

export interface Handshake {
  details: HandshakeDetails;
  hmac: Uint8Array;
}

/** Encodes a NebulaHandshake; Details is always emitted (Go marshals the non-nil pointer even when it is empty). */
export function encodeHandshake(m: { details: HandshakeDetails; hmac?: Uint8Array }): Uint8Array {
  return encode(nebula.NebulaHandshake, schemas.NebulaHandshake, m);
}

const decodeHandshakeObject = plainDecoder<Handshake>(nebula.NebulaHandshake, schemas.NebulaHandshake);

export function decodeHandshake(bytes: Uint8Array): Handshake {
  const m = decodeHandshakeObject(bytes);
  if (!m.details.certVersion) delete m.details.certVersion;
  // Decoded bytes are views into the input.
  m.details.cert = copyBytes(m.details.cert);
  m.hmac = copyBytes(m.hmac);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Lighthouse (NebulaMeta)

export interface MeshName {
  name: string;
  ips: number[];
}

/** Where a name table message stands: the sender's table epoch (new per process) and version, and the chunk. */
export interface MeshNameTable {
  epoch: number;
  version: number;
  /** 0-based chunk index, of `chunks` (0 on messages that are not chunked). */
  chunk: number;
  chunks: number;
}

export interface Ip4AndPort {
  ip: number;
  port: number;
}

export interface Ip6AndPort {
  hi: bigint;
  lo: bigint;
  port: number;
}

export interface MetaDetails {
  /** The overlay address the message is about (VpnIp, or VpnAddr on v2 tunnels); 0 for none. */
  vpnIp: VpnAddr;
  ip4AndPorts: Ip4AndPort[];
  counter: number;
  ip6AndPorts: Ip6AndPort[];
  /** RelayVpnIps, or RelayVpnAddrs on v2 tunnels. */
  relayVpnIps: VpnAddr[];
  /** mesh extension (field 100): subnets as network address and prefix length. */
  meshSubnets?: { ip: number; bits: number }[];
  /** mesh extension (field 101). */
  meshNames?: MeshName[];
  /** mesh extension (field 102). */
  meshNameTable?: MeshNameTable;
  /** mesh extension (field 103): an encoded revocation list. */
  meshRevocationList?: Uint8Array;
  /** mesh extension (field 104). */
  meshTunnels?: MeshTunnel[];
  /** mesh extension (field 105): tunnels the sender has, when it reported only some of them. */
  meshTunnelsTotal?: number;
  /** mesh extension (field 106): the sender's NAT mapping as its STUN discovery sees it (NAT_MAPPINGS index). */
  meshNatMapping?: number;
}

export interface MetaMessage {
  type: number;
  details: MetaDetails;
}

export function emptyMetaDetails(): MetaDetails {
  return { vpnIp: 0, ip4AndPorts: [], counter: 0, ip6AndPorts: [], relayVpnIps: [] };
}

/** The mesh extension carries IPv4 prefixes. */
function checkMeshSubnets(subnets: readonly { bits: number }[]): void {
  for (const { bits } of subnets) {
    if (bits > 32) throw new ProtobufError(`meshSubnets: /${bits} is not an IPv4 prefix length`);
  }
}

/**
 * Encodes a NebulaMeta; Details is always emitted (1.6 drops messages without it). The addresses
 * go in the fields of `form`; an IPv6 one in a v1 message throws.
 */
export function encodeMeta(type: number, details: MetaDetails, form: AddrForm = 'v1'): Uint8Array {
  checkMeshSubnets(details.meshSubnets ?? []);
  const { vpnIp, relayVpnIps, ...rest } = details;
  const fields =
    form === 'v1'
      ? // A relay with only an IPv6 address cannot be named in a v1 message; it is left out.
        { vpnIp: uint32Of(vpnIp, 'vpnIp'), relayVpnIps: relayVpnIps.filter((a): a is number => typeof a === 'number') }
      : { vpnAddr: vpnIp === 0 ? undefined : addrOf(vpnIp), relayVpnAddrs: relayVpnIps.map(addrOf) };
  return encode(nebula.NebulaMeta, schemas.NebulaMeta, { type, details: { ...rest, ...fields } });
}

const decodeMetaObject = plainDecoder<{ type: number; details: Required<MetaDetails> & { meshNameTable: MeshNameTable | null; vpnAddr: Addr | null; relayVpnAddrs: Addr[] } }>(
  nebula.NebulaMeta,
  schemas.NebulaMeta,
);

/** Decodes a NebulaMeta; throws when Details is missing or the bytes are malformed. */
export function decodeMeta(bytes: Uint8Array): MetaMessage {
  return decodeCommonMeta(bytes) ?? decodeAnyMeta(bytes);
}

/** decodeMeta through protobufjs and the strict wire check: any NebulaMeta. */
export function decodeAnyMeta(bytes: Uint8Array): MetaMessage {
  const { type, details } = decodeMetaObject(bytes);
  // The mesh extension lists are optional properties, left out when empty.
  const { meshSubnets, meshNames, meshNameTable, meshRevocationList, meshTunnels, meshTunnelsTotal, meshNatMapping, vpnAddr, relayVpnAddrs, ...base } = details;
  const metaDetails: MetaDetails = base;
  metaDetails.vpnIp ||= vpnAddrOfAddr(vpnAddr);
  if (metaDetails.relayVpnIps.length === 0) metaDetails.relayVpnIps = relayVpnAddrs.map(vpnAddrOfAddr).filter((ip) => ip !== 0);
  checkMeshSubnets(meshSubnets);
  if (meshSubnets.length > 0) metaDetails.meshSubnets = meshSubnets;
  if (meshNames.length > 0) metaDetails.meshNames = meshNames;
  if (meshNameTable) metaDetails.meshNameTable = meshNameTable;
  if (meshRevocationList.length > 0) metaDetails.meshRevocationList = copyBytes(meshRevocationList);
  if (meshTunnels.length > 0) metaDetails.meshTunnels = meshTunnels;
  if (meshTunnelsTotal) metaDetails.meshTunnelsTotal = meshTunnelsTotal;
  if (meshNatMapping) metaDetails.meshNatMapping = meshNatMapping;
  return { type, details: metaDetails };
}

/**
 * decodeMeta's fast path, for what a lighthouse hears most (queries and updates) and nodes hear
 * back (replies, punch notifications): a NebulaMeta of only Type and Details, Details of only
 * VpnIp, Ip4AndPorts (ip, port), Counter and RelayVpnIps (packed or not), every singular field at
 * most once and every varint a value below 2^32 in at most 5 bytes. Anything else (IPv6, v2
 * addresses, the mesh extensions, unknown fields, other encodings, malformed bytes) returns null
 * and goes to decodeAnyMeta, which decodes these bytes to the same result; the unit tests compare
 * the two. Costs a fifth of the protobufjs path, which is most of a lighthouse's work per query.
 */
export function decodeCommonMeta(bytes: Uint8Array): MetaMessage | null {
  const r = new WireReader(bytes);
  let type = -1;
  let details: MetaDetails | null = null;
  while (r.more()) {
    const tag = r.byte();
    if (tag === 0x08 && type < 0) {
      type = r.varint32();
      if (type > 0x7fffffff) return null; // an int32 enum: protobufjs would make it negative
    } else if (tag === 0x12 && !details) {
      const end = r.lengthEnd();
      if (end < 0) return null;
      details = readCommonDetails(r, end);
      if (!details) return null;
    } else return null;
    if (r.failed) return null;
  }
  return details ? { type: Math.max(type, 0), details } : null;
}

function readCommonDetails(r: WireReader, end: number): MetaDetails | null {
  const details = emptyMetaDetails();
  let seen = 0; // bit 1: VpnIp, bit 2: Counter
  while (r.pos < end) {
    const tag = r.byte();
    if (tag === 0x08 && !(seen & 1)) {
      details.vpnIp = r.varint32();
      seen |= 1;
    } else if (tag === 0x18 && !(seen & 2)) {
      details.counter = r.varint32();
      seen |= 2;
    } else if (tag === 0x12) {
      const to = r.lengthEnd(end);
      if (to < 0) return null;
      const entry = { ip: 0, port: 0 };
      let fields = 0;
      while (r.pos < to) {
        const t = r.byte();
        if (t === 0x08 && !(fields & 1)) entry.ip = r.varint32();
        else if (t === 0x10 && !(fields & 2)) entry.port = r.varint32();
        else return null;
        fields |= t === 0x08 ? 1 : 2;
        if (r.failed || r.pos > to) return null;
      }
      details.ip4AndPorts.push(entry);
    } else if (tag === 0x28) {
      details.relayVpnIps.push(r.varint32());
    } else if (tag === 0x2a) {
      const to = r.lengthEnd(end);
      if (to < 0) return null;
      while (r.pos < to) {
        details.relayVpnIps.push(r.varint32());
        if (r.failed || r.pos > to) return null;
      }
    } else return null;
    if (r.failed || r.pos > end) return null;
  }
  return details;
}

/** Reads the fast path's wire format; `failed` once anything was out of bounds or out of its range. */
class WireReader {
  pos = 0;
  failed = false;
  constructor(private readonly bytes: Uint8Array) {}

  more(): boolean {
    return this.pos < this.bytes.length;
  }

  /** One byte (tags here are single bytes: a longer one fails the fast path when compared). */
  byte(): number {
    if (this.pos < this.bytes.length) return this.bytes[this.pos++]!;
    this.failed = true;
    return 0;
  }

  /** A varint of at most 5 bytes whose value fits 32 bits. */
  varint32(): number {
    const { bytes } = this;
    let value = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= bytes.length) break;
      const b = bytes[this.pos++]!;
      // The first four bytes hold 28 bits; the fifth may hold only the top 4 of 32.
      if (i < 4) value |= (b & 0x7f) << (7 * i);
      else if (b > 0x0f) break;
      else return (value >>> 0) + b * 0x10000000;
      if (b < 0x80) return value;
    }
    this.failed = true;
    return 0;
  }

  /** A length prefix: the end of the bytes it covers, or -1 when they run past `limit`. */
  lengthEnd(limit = this.bytes.length): number {
    const length = this.varint32();
    const end = this.pos + length;
    return this.failed || end > limit ? -1 : end;
  }
}

// ---------------------------------------------------------------------------------------------
// Relay control (NebulaControl)

export interface ControlMessage {
  type: number;
  initiatorRelayIndex: number;
  responderRelayIndex: number;
  /** RelayToIp, or RelayToAddr on v2 tunnels. */
  relayToIp: VpnAddr;
  relayFromIp: VpnAddr;
}

/** Encodes a NebulaControl with its addresses in the fields of `form` (see AddrForm). */
export function encodeControl(m: ControlMessage, form: AddrForm = 'v1'): Uint8Array {
  const { relayToIp, relayFromIp, ...rest } = m;
  const fields =
    form === 'v1'
      ? { relayToIp: uint32Of(relayToIp, 'relayToIp'), relayFromIp: uint32Of(relayFromIp, 'relayFromIp') }
      : { relayToAddr: addrOf(relayToIp), relayFromAddr: addrOf(relayFromIp) };
  return encode(nebula.NebulaControl, schemas.NebulaControl, { ...rest, ...fields });
}

const decodeControlObject = plainDecoder<ControlMessage & { relayToAddr: Addr | null; relayFromAddr: Addr | null }>(nebula.NebulaControl, schemas.NebulaControl);

export function decodeControl(bytes: Uint8Array): ControlMessage {
  const { relayToAddr, relayFromAddr, ...m } = decodeControlObject(bytes);
  m.relayToIp ||= vpnAddrOfAddr(relayToAddr);
  m.relayFromIp ||= vpnAddrOfAddr(relayFromAddr);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Endpoint helpers

/** "a.b.c.d:port" for an Ip4AndPort. */
export function formatIp4AndPort(e: Ip4AndPort): string {
  return `${formatIp(e.ip)}:${e.port}`;
}

/** Parses "a.b.c.d:port". */
export function parseIp4AndPort(text: string): Ip4AndPort {
  const i = text.lastIndexOf(':');
  if (i < 0) throw new Error(`invalid IPv4 endpoint "${text}"`);
  return { ip: parseIp(text.slice(0, i)), port: parsePort(text.slice(i + 1), text) };
}

function parsePort(text: string, whole: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new Error(`invalid port in "${whole}"`);
  const port = Number(text);
  if (port > 65535) throw new Error(`invalid port in "${whole}"`);
  return port;
}

/** Splits 16 IPv6 address bytes into Nebula's big-endian Hi/Lo uint64 pair. */
export function ip6BytesToHiLo(bytes: Uint8Array): { hi: bigint; lo: bigint } {
  if (bytes.length !== 16) throw new Error('IPv6 address must be 16 bytes');
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return { hi: view.getBigUint64(0, false), lo: view.getBigUint64(8, false) };
}

export function hiLoToIp6Bytes(hi: bigint, lo: bigint): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt.asUintN(64, hi), false);
  view.setBigUint64(8, BigInt.asUintN(64, lo), false);
  return out;
}

export function ip6ToHiLo(text: string): { hi: bigint; lo: bigint } {
  return ip6BytesToHiLo(parseIp6(text));
}

export function hiLoToIp6(hi: bigint, lo: bigint): string {
  return formatIp6(hiLoToIp6Bytes(hi, lo));
}

/** "[addr]:port" for an Ip6AndPort. */
export function formatIp6AndPort(e: Ip6AndPort): string {
  return `[${hiLoToIp6(e.hi, e.lo)}]:${e.port}`;
}

/** Parses "[addr]:port". */
export function parseIp6AndPort(text: string): Ip6AndPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`invalid IPv6 endpoint "${text}"`);
  const { hi, lo } = ip6ToHiLo(m[1]!);
  return { hi, lo, port: parsePort(m[2]!, text) };
}
