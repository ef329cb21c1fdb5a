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
 * The schema is defined in code with protobufjs reflection (nothing is read from disk). protobufjs
 * writes fields in id order, packs repeated scalars (proto3), and writes a field only when it is
 * set, so the encoders leave every zero/empty value unset. Decoders run the strict wire-type pass of
 * ./protobuf.ts first, because protobufjs alone silently skips known fields with wrong wire types.
 */
import protobuf from 'protobufjs';
import { formatIp6, parseIp6 } from '../net/ip.js';
import { formatIp, parseIp } from '../net/ipv4.js';
import { bigintToLong, checkWireTypes, longToBigint, plainBytes, ProtobufError, wireChecksFor } from './protobuf.js';

export { ProtobufError } from './protobuf.js';

const P3 = 'proto3';

// nebula.proto of Nebula 1.6.1.
const root = protobuf.Root.fromJSON({
  nested: {
    nebula: {
      nested: {
        NebulaMeta: {
          edition: P3,
          fields: {
            Type: { type: 'MessageType', id: 1 },
            Details: { type: 'NebulaMetaDetails', id: 2 },
          },
          nested: {
            MessageType: {
              values: {
                None: 0,
                HostQuery: 1,
                HostQueryReply: 2,
                HostUpdateNotification: 3,
                HostMovedNotification: 4,
                HostPunchNotification: 5,
                HostWhoami: 6,
                HostWhoamiReply: 7,
                PathCheck: 8,
                PathCheckReply: 9,
                HostUpdateNotificationAck: 10,
                MeshSubnetQuery: 100,
                MeshSubnetReply: 101,
                MeshNamesUpdate: 102,
                MeshNameQuery: 103,
                MeshNameReply: 104,
                MeshTunnelsReport: 105,
              },
            },
          },
        },
        NebulaMetaDetails: {
          edition: P3,
          fields: {
            VpnIp: { type: 'uint32', id: 1 },
            Ip4AndPorts: { rule: 'repeated', type: 'Ip4AndPort', id: 2 },
            counter: { type: 'uint32', id: 3 },
            Ip6AndPorts: { rule: 'repeated', type: 'Ip6AndPort', id: 4 },
            RelayVpnIp: { rule: 'repeated', type: 'uint32', id: 5, options: { packed: true } },
            MeshSubnets: { rule: 'repeated', type: 'MeshSubnet', id: 100 },
            MeshNames: { rule: 'repeated', type: 'MeshName', id: 101 },
            MeshTunnels: { rule: 'repeated', type: 'MeshTunnel', id: 102 },
            MeshTunnelsTotal: { type: 'uint32', id: 103 },
            MeshNatMapping: { type: 'uint32', id: 104 },
          },
        },
        MeshTunnel: {
          edition: P3,
          fields: {
            PeerIp: { type: 'uint32', id: 1 },
            RelayIp: { type: 'uint32', id: 2 },
            RttMicros: { type: 'uint32', id: 3 },
            AgeSeconds: { type: 'uint32', id: 4 },
          },
        },
        MeshSubnet: {
          edition: P3,
          fields: {
            Ip: { type: 'uint32', id: 1 },
            Bits: { type: 'uint32', id: 2 },
          },
        },
        MeshName: {
          edition: P3,
          fields: {
            Name: { type: 'string', id: 1 },
            Ips: { rule: 'repeated', type: 'uint32', id: 2, options: { packed: true } },
          },
        },
        Ip4AndPort: {
          edition: P3,
          fields: {
            Ip: { type: 'uint32', id: 1 },
            Port: { type: 'uint32', id: 2 },
          },
        },
        Ip6AndPort: {
          edition: P3,
          fields: {
            Hi: { type: 'uint64', id: 1 },
            Lo: { type: 'uint64', id: 2 },
            Port: { type: 'uint32', id: 3 },
          },
        },
        NebulaHandshake: {
          edition: P3,
          fields: {
            Details: { type: 'NebulaHandshakeDetails', id: 1 },
            Hmac: { type: 'bytes', id: 2 },
          },
        },
        NebulaHandshakeDetails: {
          edition: P3,
          fields: {
            Cert: { type: 'bytes', id: 1 },
            InitiatorIndex: { type: 'uint32', id: 2 },
            ResponderIndex: { type: 'uint32', id: 3 },
            Cookie: { type: 'uint64', id: 4 },
            Time: { type: 'uint64', id: 5 },
          },
        },
        NebulaControl: {
          edition: P3,
          fields: {
            Type: { type: 'MessageType', id: 1 },
            InitiatorRelayIndex: { type: 'uint32', id: 2 },
            ResponderRelayIndex: { type: 'uint32', id: 3 },
            RelayToIp: { type: 'uint32', id: 4 },
            RelayFromIp: { type: 'uint32', id: 5 },
          },
          nested: {
            MessageType: { values: { None: 0, CreateRelayRequest: 1, CreateRelayResponse: 2 } },
          },
        },
      },
    },
  },
});

const PbHandshake = root.lookupType('nebula.NebulaHandshake');
const PbHandshakeDetails = root.lookupType('nebula.NebulaHandshakeDetails');
const PbMeta = root.lookupType('nebula.NebulaMeta');
const PbMetaDetails = root.lookupType('nebula.NebulaMetaDetails');
const PbIp4AndPort = root.lookupType('nebula.Ip4AndPort');
const PbIp6AndPort = root.lookupType('nebula.Ip6AndPort');
const PbMeshSubnet = root.lookupType('nebula.MeshSubnet');
const PbMeshName = root.lookupType('nebula.MeshName');
const PbMeshTunnel = root.lookupType('nebula.MeshTunnel');
const PbControl = root.lookupType('nebula.NebulaControl');

const HANDSHAKE_CHECKS = wireChecksFor(PbHandshake);
const META_CHECKS = wireChecksFor(PbMeta);
const CONTROL_CHECKS = wireChecksFor(PbControl);

type Fields = Record<string, unknown>;

// Encoding: validate like Go's types would, and set only non-zero values.

function setUint32(o: Fields, key: string, value: number): void {
  if (value >>> 0 !== value) throw new ProtobufError(`${key}: ${value} is not a uint32`);
  if (value !== 0) o[key] = value;
}

function setInt32(o: Fields, key: string, value: number): void {
  if ((value | 0) !== value) throw new ProtobufError(`${key}: ${value} is not an int32`);
  if (value !== 0) o[key] = value;
}

function setUint64(o: Fields, key: string, value: bigint): void {
  const long = bigintToLong(value);
  if (value !== 0n) o[key] = long;
}

function setBytes(o: Fields, key: string, value: Uint8Array): void {
  if (value.length > 0) o[key] = value;
}

function encode(type: protobuf.Type, fields: Fields): Uint8Array {
  return plainBytes(type.encode(type.create(fields)).finish());
}

/** Strict pre-pass, then protobufjs decode; every failure becomes a ProtobufError. */
function decode<T>(type: protobuf.Type, checks: Parameters<typeof checkWireTypes>[1], bytes: Uint8Array): T {
  checkWireTypes(bytes, checks);
  try {
    return type.decode(bytes) as unknown as T;
  } catch (err) {
    throw new ProtobufError(`${type.name}: ${(err as Error).message}`);
  }
}

/** A copy (decoded bytes may be views into the input). */
function copyBytes(b: Uint8Array | null | undefined): Uint8Array {
  return b ? new Uint8Array(b) : new Uint8Array(0);
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
}

export interface Handshake {
  details: HandshakeDetails;
  hmac: Uint8Array;
}

interface PbHandshakeDetailsFields {
  Cert?: Uint8Array;
  InitiatorIndex?: number;
  ResponderIndex?: number;
  Cookie?: protobuf.Long | number;
  Time?: protobuf.Long | number;
}

interface PbHandshakeFields {
  Details?: PbHandshakeDetailsFields | null;
  Hmac?: Uint8Array;
}

export function encodeHandshake(m: { details: HandshakeDetails; hmac?: Uint8Array }): Uint8Array {
  const d: Fields = {};
  setBytes(d, 'Cert', m.details.cert);
  setUint32(d, 'InitiatorIndex', m.details.initiatorIndex);
  setUint32(d, 'ResponderIndex', m.details.responderIndex);
  setUint64(d, 'Cookie', m.details.cookie);
  setUint64(d, 'Time', m.details.time);
  // Details is always emitted (Go marshals the non-nil pointer even when it is empty).
  const o: Fields = { Details: PbHandshakeDetails.create(d) };
  if (m.hmac) setBytes(o, 'Hmac', m.hmac);
  return encode(PbHandshake, o);
}

export function decodeHandshake(bytes: Uint8Array): Handshake {
  const m = decode<PbHandshakeFields>(PbHandshake, HANDSHAKE_CHECKS, bytes);
  const d = m.Details;
  if (!d) throw new ProtobufError('NebulaHandshake: Details missing');
  return {
    details: {
      cert: copyBytes(d.Cert),
      initiatorIndex: d.InitiatorIndex ?? 0,
      responderIndex: d.ResponderIndex ?? 0,
      cookie: longToBigint(d.Cookie),
      time: longToBigint(d.Time),
    },
    hmac: copyBytes(m.Hmac),
  };
}

// ---------------------------------------------------------------------------------------------
// Lighthouse (NebulaMeta)

export const MetaType = {
  None: 0,
  HostQuery: 1,
  HostQueryReply: 2,
  HostUpdateNotification: 3,
  HostMovedNotification: 4,
  HostPunchNotification: 5,
  HostWhoami: 6,
  HostWhoamiReply: 7,
  PathCheck: 8,
  PathCheckReply: 9,
  HostUpdateNotificationAck: 10,
  // mesh extensions (container subnets and names), sent only to lighthouses: a Nebula 1.6 lighthouse
  // ignores message types it does not know, and every Nebula ignores the fields numbered 100+.
  /** node → lighthouse: which host routes Details.VpnIp (an address in some certificate's subnets)? */
  MeshSubnetQuery: 100,
  /** lighthouse → node: Details.VpnIp owns MeshSubnets (from its certificate), reachable at Ip4AndPorts. */
  MeshSubnetReply: 101,
  /** node → lighthouse: the container names it serves (replaces the previous update). */
  MeshNamesUpdate: 102,
  /** node → lighthouse: MeshNames[0].Name, please. */
  MeshNameQuery: 103,
  /** lighthouse → node: MeshNames with the addresses known for the name (none: unknown). */
  MeshNameReply: 104,
  /** node → lighthouse, with each HostUpdateNotification: its tunnels (MeshTunnels, MeshTunnelsTotal), for the map. */
  MeshTunnelsReport: 105,
} as const;

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

export interface MeshName {
  name: string;
  ips: number[];
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
  vpnIp: number;
  ip4AndPorts: Ip4AndPort[];
  counter: number;
  ip6AndPorts: Ip6AndPort[];
  relayVpnIps: number[];
  /** mesh extension (field 100): subnets as network address and prefix length. */
  meshSubnets?: { ip: number; bits: number }[];
  /** mesh extension (field 101). */
  meshNames?: MeshName[];
  /** mesh extension (field 102). */
  meshTunnels?: MeshTunnel[];
  /** mesh extension (field 103): tunnels the sender has, when it reported only some of them. */
  meshTunnelsTotal?: number;
  /** mesh extension (field 104): the sender's NAT mapping as its STUN discovery sees it (NAT_MAPPINGS index). */
  meshNatMapping?: number;
}

export interface MetaMessage {
  type: number;
  details: MetaDetails;
}

export function emptyMetaDetails(): MetaDetails {
  return { vpnIp: 0, ip4AndPorts: [], counter: 0, ip6AndPorts: [], relayVpnIps: [] };
}

interface PbMetaDetailsFields {
  VpnIp?: number;
  Ip4AndPorts?: { Ip?: number; Port?: number }[];
  counter?: number;
  Ip6AndPorts?: { Hi?: protobuf.Long | number; Lo?: protobuf.Long | number; Port?: number }[];
  RelayVpnIp?: number[];
  MeshSubnets?: { Ip?: number; Bits?: number }[];
  MeshNames?: { Name?: string; Ips?: number[] }[];
  MeshTunnels?: { PeerIp?: number; RelayIp?: number; RttMicros?: number; AgeSeconds?: number }[];
  MeshTunnelsTotal?: number;
  MeshNatMapping?: number;
}

interface PbMetaFields {
  Type?: number;
  Details?: PbMetaDetailsFields | null;
}

function metaDetailsMessage(d: MetaDetails): protobuf.Message {
  const o: Fields = {};
  setUint32(o, 'VpnIp', d.vpnIp);
  if (d.ip4AndPorts.length > 0) {
    o['Ip4AndPorts'] = d.ip4AndPorts.map((e) => {
      const x: Fields = {};
      setUint32(x, 'Ip', e.ip);
      setUint32(x, 'Port', e.port);
      return PbIp4AndPort.create(x);
    });
  }
  setUint32(o, 'counter', d.counter);
  if (d.ip6AndPorts.length > 0) {
    o['Ip6AndPorts'] = d.ip6AndPorts.map((e) => {
      const x: Fields = {};
      setUint64(x, 'Hi', e.hi);
      setUint64(x, 'Lo', e.lo);
      setUint32(x, 'Port', e.port);
      return PbIp6AndPort.create(x);
    });
  }
  if (d.relayVpnIps.length > 0) {
    for (const ip of d.relayVpnIps) {
      if (ip >>> 0 !== ip) throw new ProtobufError(`RelayVpnIp: ${ip} is not a uint32`);
    }
    o['RelayVpnIp'] = [...d.relayVpnIps];
  }
  if (d.meshSubnets && d.meshSubnets.length > 0) {
    o['MeshSubnets'] = d.meshSubnets.map((e) => {
      if (e.bits > 32) throw new ProtobufError(`MeshSubnets: /${e.bits} is not an IPv4 prefix length`);
      const x: Fields = {};
      setUint32(x, 'Ip', e.ip);
      setUint32(x, 'Bits', e.bits);
      return PbMeshSubnet.create(x);
    });
  }
  if (d.meshNames && d.meshNames.length > 0) {
    o['MeshNames'] = d.meshNames.map((e) => {
      const x: Fields = {};
      if (e.name) x['Name'] = e.name;
      for (const ip of e.ips) setUint32({}, 'Ips', ip);
      if (e.ips.length > 0) x['Ips'] = [...e.ips];
      return PbMeshName.create(x);
    });
  }
  if (d.meshTunnels && d.meshTunnels.length > 0) {
    o['MeshTunnels'] = d.meshTunnels.map((e) => {
      const x: Fields = {};
      setUint32(x, 'PeerIp', e.peerIp);
      setUint32(x, 'RelayIp', e.relayIp);
      setUint32(x, 'RttMicros', e.rttMicros);
      setUint32(x, 'AgeSeconds', e.ageSeconds);
      return PbMeshTunnel.create(x);
    });
  }
  setUint32(o, 'MeshTunnelsTotal', d.meshTunnelsTotal ?? 0);
  setUint32(o, 'MeshNatMapping', d.meshNatMapping ?? 0);
  return PbMetaDetails.create(o);
}

/** Encodes a NebulaMeta; Details is always emitted (1.6 drops messages without it). */
export function encodeMeta(type: number, details: MetaDetails): Uint8Array {
  const o: Fields = {};
  setInt32(o, 'Type', type);
  o['Details'] = metaDetailsMessage(details);
  return encode(PbMeta, o);
}

function meshSubnetFrom(e: { Ip?: number; Bits?: number }): { ip: number; bits: number } {
  const bits = e.Bits ?? 0;
  if (bits > 32) throw new ProtobufError(`MeshSubnets: /${bits} is not an IPv4 prefix length`);
  return { ip: e.Ip ?? 0, bits };
}

/** Decodes a NebulaMeta; throws when Details is missing or the bytes are malformed. */
export function decodeMeta(bytes: Uint8Array): MetaMessage {
  const m = decode<PbMetaFields>(PbMeta, META_CHECKS, bytes);
  const d = m.Details;
  if (!d) throw new ProtobufError('NebulaMeta: Details missing');
  return {
    type: m.Type ?? 0,
    details: {
      vpnIp: d.VpnIp ?? 0,
      ip4AndPorts: (d.Ip4AndPorts ?? []).map((e) => ({ ip: e.Ip ?? 0, port: e.Port ?? 0 })),
      counter: d.counter ?? 0,
      ip6AndPorts: (d.Ip6AndPorts ?? []).map((e) => ({ hi: longToBigint(e.Hi), lo: longToBigint(e.Lo), port: e.Port ?? 0 })),
      relayVpnIps: [...(d.RelayVpnIp ?? [])],
      ...(d.MeshSubnets?.length ? { meshSubnets: d.MeshSubnets.map(meshSubnetFrom) } : {}),
      ...(d.MeshNames?.length ? { meshNames: d.MeshNames.map((e) => ({ name: e.Name ?? '', ips: [...(e.Ips ?? [])] })) } : {}),
      ...(d.MeshTunnels?.length
        ? { meshTunnels: d.MeshTunnels.map((e) => ({ peerIp: e.PeerIp ?? 0, relayIp: e.RelayIp ?? 0, rttMicros: e.RttMicros ?? 0, ageSeconds: e.AgeSeconds ?? 0 })) }
        : {}),
      ...(d.MeshTunnelsTotal ? { meshTunnelsTotal: d.MeshTunnelsTotal } : {}),
      ...(d.MeshNatMapping ? { meshNatMapping: d.MeshNatMapping } : {}),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Relay control (NebulaControl)

export const ControlType = { None: 0, CreateRelayRequest: 1, CreateRelayResponse: 2 } as const;

export interface ControlMessage {
  type: number;
  initiatorRelayIndex: number;
  responderRelayIndex: number;
  relayToIp: number;
  relayFromIp: number;
}

interface PbControlFields {
  Type?: number;
  InitiatorRelayIndex?: number;
  ResponderRelayIndex?: number;
  RelayToIp?: number;
  RelayFromIp?: number;
}

export function encodeControl(m: ControlMessage): Uint8Array {
  const o: Fields = {};
  setInt32(o, 'Type', m.type);
  setUint32(o, 'InitiatorRelayIndex', m.initiatorRelayIndex);
  setUint32(o, 'ResponderRelayIndex', m.responderRelayIndex);
  setUint32(o, 'RelayToIp', m.relayToIp);
  setUint32(o, 'RelayFromIp', m.relayFromIp);
  return encode(PbControl, o);
}

export function decodeControl(bytes: Uint8Array): ControlMessage {
  const m = decode<PbControlFields>(PbControl, CONTROL_CHECKS, bytes);
  return {
    type: m.Type ?? 0,
    initiatorRelayIndex: m.InitiatorRelayIndex ?? 0,
    responderRelayIndex: m.ResponderRelayIndex ?? 0,
    relayToIp: m.RelayToIp ?? 0,
    relayFromIp: m.RelayFromIp ?? 0,
  };
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
