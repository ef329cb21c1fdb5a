import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { formatIp6, parseIp6 } from '../../../src/net/ip.js';
import {
  ControlType,
  decodeControl,
  decodeHandshake,
  decodeAnyMeta,
  decodeCommonMeta,
  decodeMeta,
  emptyMetaDetails,
  encodeControl,
  encodeHandshake,
  encodeMeta,
  formatIp4AndPort,
  formatIp6AndPort,
  hiLoToIp6,
  ip6ToHiLo,
  MetaType,
  parseIp4AndPort,
  parseIp6AndPort,
  type MetaDetails,
} from '../../../src/protocol/messages.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/[\s|]/g, ''), 'hex'));

// An independent reference: protobufjs parsing the nebula.proto definitions (proto3 => packed repeated).
const root = protobuf.parse(`
syntax = "proto3";
message NebulaMeta { MessageType Type = 1; NebulaMetaDetails Details = 2;
  enum MessageType { None = 0; HostQuery = 1; HostQueryReply = 2; HostUpdateNotification = 3; HostMovedNotification = 4;
    HostPunchNotification = 5; HostWhoami = 6; HostWhoamiReply = 7; PathCheck = 8; PathCheckReply = 9; HostUpdateNotificationAck = 10; } }
message NebulaMetaDetails { uint32 VpnIp = 1; repeated Ip4AndPort Ip4AndPorts = 2; uint32 counter = 3;
  repeated Ip6AndPort Ip6AndPorts = 4; repeated uint32 RelayVpnIp = 5; }
message Ip4AndPort { uint32 Ip = 1; uint32 Port = 2; }
message Ip6AndPort { uint64 Hi = 1; uint64 Lo = 2; uint32 Port = 3; }
message NebulaHandshake { NebulaHandshakeDetails Details = 1; bytes Hmac = 2; }
message NebulaHandshakeDetails { bytes Cert = 1; uint32 InitiatorIndex = 2; uint32 ResponderIndex = 3; uint64 Cookie = 4; uint64 Time = 5; }
message NebulaControl { MessageType Type = 1; uint32 InitiatorRelayIndex = 2; uint32 ResponderRelayIndex = 3;
  uint32 RelayToIp = 4; uint32 RelayFromIp = 5;
  enum MessageType { None = 0; CreateRelayRequest = 1; CreateRelayResponse = 2; } }
`).root;
const PbMeta = root.lookupType('NebulaMeta');
const PbHandshake = root.lookupType('NebulaHandshake');
const PbControl = root.lookupType('NebulaControl');

/** Drops zero/empty values so protobufjs (which writes explicitly-set zeros) emits what Go emits. */
function nonZero(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === 0 || v === 0n || v === undefined) continue;
    if ((v instanceof Uint8Array || Array.isArray(v)) && v.length === 0) continue;
    out[k] = typeof v === 'bigint' ? v.toString() : v;
  }
  return out;
}

function refMetaBytes(type: number, d: MetaDetails): Uint8Array {
  const obj = nonZero({
    Type: type,
    Details: nonZero({
      VpnIp: d.vpnIp,
      Ip4AndPorts: d.ip4AndPorts.map((e) => nonZero({ Ip: e.ip, Port: e.port })),
      counter: d.counter,
      Ip6AndPorts: d.ip6AndPorts.map((e) => nonZero({ Hi: e.hi, Lo: e.lo, Port: e.port })),
      RelayVpnIp: d.relayVpnIps,
    }),
  });
  obj['Details'] ??= {};
  return PbMeta.encode(PbMeta.fromObject(obj)).finish();
}

let seed = 987654321;
function rnd(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed;
}
const pick = <T>(...xs: T[]): T => xs[rnd() % xs.length]!;
const rndU32 = () => pick(0, 1, 127, 128, 0xffffffff, rnd());
const rndU64 = () => pick(0n, 1n, 2n ** 64n - 1n, 1_700_000_000_123_456_789n, (BigInt(rnd()) << 32n) | BigInt(rnd()));

function randomMetaDetails(): MetaDetails {
  const n4 = rnd() % 4;
  const n6 = rnd() % 3;
  const nr = rnd() % 4;
  return {
    vpnIp: rndU32(),
    ip4AndPorts: Array.from({ length: n4 }, () => ({ ip: rndU32(), port: rnd() % 65536 })),
    counter: rndU32(),
    ip6AndPorts: Array.from({ length: n6 }, () => ({ hi: rndU64(), lo: rndU64(), port: pick(0, 4242, 65535) })),
    relayVpnIps: Array.from({ length: nr }, () => rndU32()),
  };
}

describe('NebulaHandshake', () => {
  const details = { cert: Buffer.from('CERT'), initiatorIndex: 0x11223344, responderIndex: 0, cookie: 0n, time: 1700000000000000000n };

  it('encodes the notes example byte for byte', () => {
    assert.equal(hex(encodeHandshake({ details })), '0a160a0443455254' + '10c4e6888901' + '288080a8b1e39fe7cb17');
  });

  it('round-trips uint64 exactly and echoes cookie/hmac', () => {
    const d = { cert: randomBytes(200), initiatorIndex: 0xffffffff, responderIndex: 7, cookie: 2n ** 64n - 1n, time: 1_732_000_000_123_456_789n };
    const hmac = randomBytes(12);
    const back = decodeHandshake(encodeHandshake({ details: d, hmac }));
    assert.deepEqual({ ...back.details, cert: hex(back.details.cert) }, { ...d, cert: hex(d.cert) });
    assert.equal(hex(back.hmac), hex(hmac));
  });

  it('emits Details even when empty, and decodes it', () => {
    const empty = { cert: new Uint8Array(0), initiatorIndex: 0, responderIndex: 0, cookie: 0n, time: 0n };
    assert.equal(hex(encodeHandshake({ details: empty })), '0a00');
    const back = decodeHandshake(unhex('0a00'));
    assert.equal(back.details.cert.length, 0);
    assert.equal(back.details.time, 0n);
    assert.equal(back.hmac.length, 0);
  });

  it('matches protobufjs on random messages, both directions', () => {
    for (let i = 0; i < 300; i++) {
      const d = { cert: randomBytes(rnd() % 40), initiatorIndex: rndU32(), responderIndex: rndU32(), cookie: rndU64(), time: rndU64() };
      const hmac = rnd() % 2 ? randomBytes(rnd() % 5) : undefined;
      const ours = encodeHandshake({ details: d, ...(hmac ? { hmac } : {}) });
      const ref = PbHandshake.encode(
        PbHandshake.fromObject({
          Details: nonZero({ Cert: d.cert, InitiatorIndex: d.initiatorIndex, ResponderIndex: d.responderIndex, Cookie: d.cookie, Time: d.time }),
          ...(hmac && hmac.length ? { Hmac: hmac } : {}),
        }),
      ).finish();
      assert.equal(hex(ours), hex(ref));
      const back = decodeHandshake(ref);
      assert.equal(back.details.time, d.time);
      assert.equal(back.details.cookie, d.cookie);
      assert.equal(back.details.initiatorIndex, d.initiatorIndex);
    }
  });

  it('accepts any field order and skips unknown fields', () => {
    // Details fields reversed, plus unknown fields 6 (varint), 7 (bytes), 9 (fixed32), 10 (fixed64); Hmac before Details.
    const inner = unhex('288080a8b1e39fe7cb17' + '10c4e6888901' + '0a0443455254' + '3001' + '3a03616263' + '4d01020304' + '510102030405060708');
    const outer = new Uint8Array([...unhex('12026869'), 0x0a, inner.length, ...inner, ...unhex('f80101')]);
    const m = decodeHandshake(outer);
    assert.equal(Buffer.from(m.details.cert).toString(), 'CERT');
    assert.equal(m.details.initiatorIndex, 0x11223344);
    assert.equal(m.details.time, 1700000000000000000n);
    assert.equal(Buffer.from(m.hmac).toString(), 'hi');
  });

  it('throws when Details is missing or garbled', () => {
    assert.throws(() => decodeHandshake(new Uint8Array(0)), /Details missing/);
    assert.throws(() => decodeHandshake(unhex('12026869')), /Details missing/);
    assert.throws(() => decodeHandshake(unhex('0a05')), Error);
    assert.throws(() => decodeHandshake(unhex('0a0310')), Error);
    assert.throws(() => decodeHandshake(unhex('0801')), /wire type/);
  });

  it('copies the cert out of the input buffer', () => {
    const buf = Buffer.from(encodeHandshake({ details }));
    const m = decodeHandshake(buf);
    buf.fill(0);
    assert.equal(Buffer.from(m.details.cert).toString(), 'CERT');
  });
});

describe('NebulaMeta', () => {
  it('encodes the notes examples byte for byte', () => {
    assert.equal(hex(encodeMeta(MetaType.HostQuery, { ...emptyMetaDetails(), vpnIp: 0x0a2a0003 })), '0801120508' + '8380a851');
    const update: MetaDetails = {
      vpnIp: 0x0a2a0002,
      ip4AndPorts: [{ ip: 0xc000020a, port: 4242 }],
      counter: 0,
      ip6AndPorts: [],
      relayVpnIps: [0x0a2a0001],
    };
    const expected = '0803 1216 08 8280a851 1209 08 8a8480800c 10 9221 2a04 8180a851'.replace(/ /g, '');
    assert.equal(hex(encodeMeta(MetaType.HostUpdateNotification, update)), expected);
    assert.deepEqual(decodeMeta(unhex(expected)), { type: 3, details: update });
  });

  it('encodes the Ip6AndPort example (2001:db8::1 port 4242)', () => {
    const { hi, lo } = ip6ToHiLo('2001:db8::1');
    assert.equal(hi, 0x20010db800000000n);
    assert.equal(lo, 1n);
    const bytes = encodeMeta(MetaType.HostQueryReply, { ...emptyMetaDetails(), ip6AndPorts: [{ hi, lo, port: 4242 }] });
    const ip6 = '08 8080808080b7c38020 10 01 18 9221'.replace(/ /g, '');
    assert.equal(hex(bytes), `08021211220f${ip6}`);
    const back = decodeMeta(bytes);
    assert.equal(formatIp6AndPort(back.details.ip6AndPorts[0]!), '[2001:db8::1]:4242');
  });

  it('always emits Details, even when empty', () => {
    assert.equal(hex(encodeMeta(MetaType.None, emptyMetaDetails())), '1200');
    assert.equal(hex(encodeMeta(MetaType.HostWhoami, emptyMetaDetails())), '08061200');
    assert.deepEqual(decodeMeta(unhex('1200')), { type: 0, details: emptyMetaDetails() });
  });

  it('throws when Details is missing, garbled or has wrong wire types', () => {
    assert.throws(() => decodeMeta(unhex('0801')), /Details missing/);
    assert.throws(() => decodeMeta(new Uint8Array(0)), /Details missing/);
    assert.throws(() => decodeMeta(unhex('1205080101')), Error);
    assert.throws(() => decodeMeta(unhex('120212')), Error);
    assert.throws(() => decodeMeta(unhex('1202' + '0a00')), /^ProtobufError: field details\.vpnIp \(1\) has wrong wire type 2$/);
  });

  it('matches protobufjs on random messages, both directions', () => {
    for (let i = 0; i < 500; i++) {
      const type = rnd() % 11;
      const d = randomMetaDetails();
      const ours = encodeMeta(type, d);
      const ref = refMetaBytes(type, d);
      assert.equal(hex(ours), hex(ref), JSON.stringify(d, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
      const decoded = PbMeta.toObject(PbMeta.decode(ours), { longs: String, defaults: true, arrays: true }) as {
        Details: { Ip6AndPorts: { Hi: string }[]; RelayVpnIp: number[] };
      };
      assert.deepEqual(decoded.Details.RelayVpnIp, d.relayVpnIps);
      assert.deepEqual(decoded.Details.Ip6AndPorts.map((e) => BigInt(e.Hi)), d.ip6AndPorts.map((e) => e.hi));
      assert.deepEqual(decodeMeta(ref), { type, details: d });
    }
  });

  it('accepts unpacked RelayVpnIp, mixed order, merged Details and unknown fields', () => {
    // Details split in two occurrences (Go merges), RelayVpnIp unpacked (28 = field 5 varint) plus packed,
    // Type after Details, unknown field 15.
    const part1 = unhex('2801' + '12040801' + '1002');
    const part2 = unhex('08 05 2a02 0203 7801'.replace(/ /g, ''));
    const bytes = new Uint8Array([0x12, part1.length, ...part1, 0x12, part2.length, ...part2, 0x08, 0x02]);
    const m = decodeMeta(bytes);
    assert.equal(m.type, 2);
    assert.equal(m.details.vpnIp, 5);
    assert.deepEqual(m.details.relayVpnIps, [1, 2, 3]);
    assert.deepEqual(m.details.ip4AndPorts, [{ ip: 1, port: 2 }]);
  });

  it('truncates over-long varints for uint32 fields like Go', () => {
    // VpnIp encoded as 2^32 + 5 => 5
    const m = decodeMeta(unhex('1206' + '088580808010'));
    assert.equal(m.details.vpnIp, 5);
  });
});

describe('NebulaMeta fast path (decodeCommonMeta)', () => {
  /** The fast path either declines (null) or gives exactly what the protobufjs path gives. */
  function agrees(bytes: Uint8Array): boolean {
    const fast = decodeCommonMeta(bytes);
    if (fast === null) return false;
    assert.deepStrictEqual(fast, decodeAnyMeta(bytes), hex(bytes));
    return true;
  }
  const v1Details = (): MetaDetails => ({ ...randomMetaDetails(), ip6AndPorts: [] });

  it('takes v1 queries, replies, updates and punch notifications, decoding them as protobufjs does', () => {
    for (let i = 0; i < 500; i++) {
      const bytes = encodeMeta(rnd() % 11, v1Details());
      assert.ok(agrees(bytes), `declined ${hex(bytes)}`);
    }
    assert.deepStrictEqual(decodeCommonMeta(encodeMeta(MetaType.HostQuery, { ...emptyMetaDetails(), vpnIp: 0x0a000002 })), { type: MetaType.HostQuery, details: { ...emptyMetaDetails(), vpnIp: 0x0a000002 } });
  });

  it('takes unpacked relays, fields in any order and empty Details; declines duplicates, long varints and other fields', () => {
    assert.ok(agrees(unhex('1206 2801 2802 1800 0803')));
    assert.ok(agrees(unhex('1200')));
    assert.ok(agrees(unhex('1204 12 02 1001 0805')));
    assert.ok(agrees(unhex('1203 2a01 07')));
    const declined = [
      '0801', // no Details: protobufjs throws
      '1200 1200', // Details twice (merged)
      '0801 0802 1200', // Type twice
      '1204 0801 0802', // VpnIp twice
      '1206 088580808010', // a uint32 over 2^32 (truncated by protobufjs)
      '08ffffffff0f 1200', // a Type over 2^31 (an int32: negative)
      '1202 7801', // an unknown field
      '1207 220510011a0100', // an Ip6AndPort
      '1202 3200', // a v2 VpnAddr
      '1203 a20600', // a mesh extension field
      '1204 12020801 00', // trailing garbage
      '120a', // truncated Details
      '1204 1203 0801', // an Ip4AndPort past its Details
      '1206 12040801 0801', // a field repeated inside an Ip4AndPort
    ];
    for (const text of declined) assert.equal(decodeCommonMeta(unhex(text)), null, text);
  });

  it('agrees with the protobufjs path on mutated messages, or declines them', () => {
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = Array.from(encodeMeta(rnd() % 11, v1Details()));
      for (let edits = 1 + (rnd() % 3); edits > 0; edits--) {
        const at = rnd() % (bytes.length + 1);
        const op = rnd() % 3;
        if (op === 0 && bytes.length > 0) bytes[at % bytes.length] = rnd() & 0xff;
        else if (op === 1) bytes.splice(at, 0, pick(0x08, 0x12, 0x18, 0x28, 0x2a, 0x80, 0x00, rnd() & 0xff));
        else bytes.splice(at, 1);
      }
      const mutated = new Uint8Array(bytes);
      const fast = decodeCommonMeta(mutated);
      if (fast === null) continue;
      taken++;
      assert.deepStrictEqual(fast, decodeAnyMeta(mutated), hex(mutated));
    }
    assert.ok(taken > 100, `only ${taken} mutated messages took the fast path`);
  });
});

describe('NebulaMeta mesh extensions', () => {
  it('round-trips a tunnel report (fields 104-106), which a Nebula 1.6 decoder skips, and stays small', () => {
    const details: MetaDetails = {
      ...emptyMetaDetails(),
      vpnIp: 0x0a2a0003,
      meshTunnels: [
        { peerIp: 0x0a2a0001, relayIp: 0, rttMicros: 812, ageSeconds: 40 },
        { peerIp: 0x0a2a0005, relayIp: 0x0a2a0002, rttMicros: 0, ageSeconds: 0 },
      ],
      meshTunnelsTotal: 2,
      meshNatMapping: 2,
    };
    const bytes = encodeMeta(MetaType.MeshTunnelsReport, details);
    assert.deepEqual(decodeMeta(bytes), { type: MetaType.MeshTunnelsReport, details });
    const asNebula = PbMeta.toObject(PbMeta.decode(bytes), { enums: Number }) as { Type: number; Details: { VpnIp: number } };
    assert.equal(asNebula.Type, 110);
    assert.equal(asNebula.Details.VpnIp, 0x0a2a0003);
    assert.ok(hex(bytes).includes('c206'), 'field 104 tag');
    // 40 tunnels (MAX_REPORTED_TUNNELS) with every value at its widest as a node sends it (RTT up to 60 s, age capped at 2^28 - 1 s) stay inside one datagram.
    const widest = { peerIp: 0xffffffff, relayIp: 0xffffffff, rttMicros: 60_000_000, ageSeconds: 0x0fffffff };
    const full = encodeMeta(MetaType.MeshTunnelsReport, { ...details, meshTunnels: Array.from({ length: 40 }, () => widest), meshTunnelsTotal: 0xffffffff });
    assert.ok(full.length < 1100, `${full.length} bytes`);
  });

  it('round-trips container subnets and names in fields 100 and 101, which a Nebula 1.6 decoder skips', () => {
    const details: MetaDetails = {
      ...emptyMetaDetails(),
      vpnIp: 0x0a2a0003,
      ip4AndPorts: [{ ip: 0xc000020a, port: 4242 }],
      meshSubnets: [{ ip: 0x0ac80200, bits: 24 }],
      meshNames: [{ name: 'web.cluster', ips: [0x0ac80202, 0x0ac80203] }],
    };
    const bytes = encodeMeta(MetaType.MeshSubnetReply, details);
    assert.deepEqual(decodeMeta(bytes), { type: MetaType.MeshSubnetReply, details });
    // nebula.proto 1.6 as an independent decoder: the known fields survive, the extensions are skipped.
    const asNebula = PbMeta.toObject(PbMeta.decode(bytes), { enums: Number }) as { Type: number; Details: { VpnIp: number; Ip4AndPorts: unknown[] } };
    assert.equal(asNebula.Type, 101);
    assert.equal(asNebula.Details.VpnIp, 0x0a2a0003);
    assert.equal(asNebula.Details.Ip4AndPorts.length, 1);
    const base = encodeMeta(MetaType.MeshSubnetReply, { ...details, meshSubnets: [], meshNames: [] });
    assert.equal(decodeMeta(base).details.meshSubnets, undefined, 'empty extensions are not emitted');
    assert.ok(hex(bytes).includes('a206'), 'field 100 tag');
    assert.ok(hex(bytes).includes('aa06'), 'field 101 tag');
  });

  it('round-trips a name table chunk (field 102), which a Nebula 1.6 decoder skips', () => {
    const details: MetaDetails = {
      ...emptyMetaDetails(),
      vpnIp: 0x0a2a0003,
      meshNames: [{ name: 'api', ips: [0x0ac80202] }, { name: 'gone', ips: [] }],
      meshNameTable: { epoch: 0xdeadbeef, version: 7, chunk: 2, chunks: 3 },
    };
    for (const type of [MetaType.MeshNamesDelta, MetaType.MeshNamesSnapshot, MetaType.MeshNamesCheck]) {
      const bytes = encodeMeta(type, details);
      assert.deepEqual(decodeMeta(bytes), { type, details });
      assert.ok(hex(bytes).includes('b206'), 'field 102 tag');
      const asNebula = PbMeta.toObject(PbMeta.decode(bytes), { enums: Number }) as { Type: number; Details: { VpnIp: number } };
      assert.equal(asNebula.Type, type);
      assert.equal(asNebula.Details.VpnIp, 0x0a2a0003);
    }
  });

  it('rejects an extension subnet longer than /32', () => {
    assert.throws(() => encodeMeta(MetaType.MeshSubnetReply, { ...emptyMetaDetails(), meshSubnets: [{ ip: 1, bits: 33 }] }), /prefix length/);
    // Details { MeshSubnets { Bits: 40 } }
    assert.throws(() => decodeMeta(unhex('0865 1205 a206021028')), /prefix length/);
  });
});

describe('NebulaControl', () => {
  it('encodes the notes example byte for byte', () => {
    const m = {
      type: ControlType.CreateRelayRequest,
      initiatorRelayIndex: 0x5b02a91b,
      responderRelayIndex: 0,
      relayToIp: 0x0a2a0003,
      relayFromIp: 0x0a2a0002,
    };
    const expected = '0801' + '109bd28ad805' + '208380a851' + '288280a851';
    assert.equal(hex(encodeControl(m)), expected);
    assert.deepEqual(decodeControl(unhex(expected)), m);
  });

  it('matches protobufjs on random messages', () => {
    for (let i = 0; i < 300; i++) {
      const m = { type: rnd() % 3, initiatorRelayIndex: rndU32(), responderRelayIndex: rndU32(), relayToIp: rndU32(), relayFromIp: rndU32() };
      const ref = PbControl.encode(
        PbControl.fromObject(
          nonZero({ Type: m.type, InitiatorRelayIndex: m.initiatorRelayIndex, ResponderRelayIndex: m.responderRelayIndex, RelayToIp: m.relayToIp, RelayFromIp: m.relayFromIp }),
        ),
      ).finish();
      assert.equal(hex(encodeControl(m)), hex(ref));
      assert.deepEqual(decodeControl(ref), m);
    }
  });

  it('an empty message decodes to all zeros; garbage throws', () => {
    assert.deepEqual(decodeControl(new Uint8Array(0)), { type: 0, initiatorRelayIndex: 0, responderRelayIndex: 0, relayToIp: 0, relayFromIp: 0 });
    assert.throws(() => decodeControl(unhex('10')), Error);
    assert.throws(() => decodeControl(unhex('1201')), /wire type/);
  });

  it('negative enum values use the 10-byte form and round-trip', () => {
    const m = { type: -1, initiatorRelayIndex: 0, responderRelayIndex: 0, relayToIp: 0, relayFromIp: 0 };
    assert.equal(hex(encodeControl(m)), '08ffffffffffffffffff01');
    assert.deepEqual(decodeControl(encodeControl(m)), m);
  });
});

describe('decoders on garbage', () => {
  it('never throw anything but Error and never hang', { timeout: 60_000 }, () => {
    const decoders = [decodeHandshake, decodeMeta, decodeControl];
    const valid = [
      encodeHandshake({ details: { cert: randomBytes(50), initiatorIndex: 1, responderIndex: 2, cookie: 3n, time: 4n } }),
      encodeMeta(3, randomMetaDetails()),
      encodeControl({ type: 1, initiatorRelayIndex: 1, responderRelayIndex: 2, relayToIp: 3, relayFromIp: 4 }),
    ];
    let thrown = 0;
    for (let i = 0; i < 20000; i++) {
      let input: Uint8Array;
      if (i % 2 === 0) {
        input = randomBytes(rnd() % 64);
      } else {
        // mutate a valid message: flip bytes, truncate, or splice in random bytes
        input = Buffer.from(valid[i % 3]!);
        const flips = 1 + (rnd() % 4);
        for (let f = 0; f < flips && input.length; f++) input[rnd() % input.length] = rnd() & 0xff;
        if (rnd() % 3 === 0) input = input.subarray(0, rnd() % (input.length + 1));
      }
      for (const decode of decoders) {
        try {
          decode(input);
        } catch (err) {
          thrown++;
          assert.ok(err instanceof Error, `non-Error thrown: ${String(err)}`);
        }
      }
    }
    assert.ok(thrown > 0);
  });
});

describe('endpoint helpers', () => {
  it('IPv4 endpoints', () => {
    assert.deepEqual(parseIp4AndPort('192.0.2.10:4242'), { ip: 0xc000020a, port: 4242 });
    assert.equal(formatIp4AndPort({ ip: 0xc000020a, port: 4242 }), '192.0.2.10:4242');
    assert.throws(() => parseIp4AndPort('192.0.2.10'));
    assert.throws(() => parseIp4AndPort('192.0.2.10:70000'));
  });

  it('IPv6 text <-> bytes <-> hi/lo', () => {
    const cases: [string, string][] = [
      ['::', '::'],
      ['::1', '::1'],
      ['2001:db8::1', '2001:db8::1'],
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['fe80::1:2:3:4', 'fe80::1:2:3:4'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'], // IPv4-mapped keeps the dotted tail, as Go's netip prints it
      ['[2001:db8::2]', '2001:db8::2'],
    ];
    for (const [input, canonical] of cases) {
      assert.equal(formatIp6(parseIp6(input)), canonical, input);
      const { hi, lo } = ip6ToHiLo(input);
      assert.equal(hiLoToIp6(hi, lo), canonical);
    }
    for (const bad of ['', ':::', '1::2::3', '12345::', 'g::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '::1.2.3', '1.2.3.4::', '::1:2:3:4:5:6:7:8']) {
      assert.throws(() => parseIp6(bad), Error, bad);
    }
    assert.deepEqual(parseIp6AndPort('[2001:db8::1]:4242'), { hi: 0x20010db800000000n, lo: 1n, port: 4242 });
    assert.throws(() => parseIp6AndPort('2001:db8::1:4242'));
  });
});

describe('messages from Nebula 1.10+ peers (nebula.proto of v1.11)', () => {
  // Built with the 1.11 definitions, independent of the codec under test.
  const v111 = protobuf.parse(`
syntax = "proto3";
message NebulaMeta { MessageType Type = 1; NebulaMetaDetails Details = 2;
  enum MessageType { None = 0; HostQuery = 1; HostQueryReply = 2; HostUpdateNotification = 3; HostMovedNotification = 4;
    HostPunchNotification = 5; HostWhoami = 6; HostWhoamiReply = 7; PathCheck = 8; PathCheckReply = 9; HostUpdateNotificationAck = 10; } }
message NebulaMetaDetails { uint32 OldVpnAddr = 1; Addr VpnAddr = 6; repeated uint32 OldRelayVpnAddrs = 5;
  repeated Addr RelayVpnAddrs = 7; repeated V4AddrPort V4AddrPorts = 2; repeated V6AddrPort V6AddrPorts = 4; uint32 counter = 3; }
message Addr { uint64 Hi = 1; uint64 Lo = 2; }
message V4AddrPort { uint32 Addr = 1; uint32 Port = 2; }
message V6AddrPort { uint64 Hi = 1; uint64 Lo = 2; uint32 Port = 3; }
message NebulaHandshake { NebulaHandshakeDetails Details = 1; bytes Hmac = 2; }
message NebulaHandshakeDetails { bytes Cert = 1; uint32 InitiatorIndex = 2; uint32 ResponderIndex = 3; uint64 Cookie = 4;
  uint64 Time = 5; uint32 CertVersion = 8; }
message NebulaControl { MessageType Type = 1; uint32 InitiatorRelayIndex = 2; uint32 ResponderRelayIndex = 3;
  uint32 OldRelayToAddr = 4; uint32 OldRelayFromAddr = 5; Addr RelayToAddr = 6; Addr RelayFromAddr = 7;
  enum MessageType { None = 0; CreateRelayRequest = 1; CreateRelayResponse = 2; } }
`).root;
  const build = (name: string, fields: object) => {
    const type = v111.lookupType(name);
    return type.encode(type.fromObject(fields)).finish();
  };
  // Go's netAddrToProtoAddr: As16() of an IPv4 address is ::ffff:a.b.c.d.
  const mapped = (ip: string) => ({ Hi: 0, Lo: (0xffffn << 32n | BigInt(ip.split('.').reduce((a, o) => a * 256 + Number(o), 0))).toString() });
  const v6 = (text: string) => {
    const { hi, lo } = ip6ToHiLo(text);
    return { Hi: hi.toString(), Lo: lo.toString() };
  };

  it('HostUpdateNotificationAck (type 10) from a 1.7+ lighthouse decodes with its OldVpnAddr', () => {
    const m = decodeMeta(build('NebulaMeta', { Type: 10, Details: { OldVpnAddr: 0x0a2a0005 } }));
    assert.equal(m.type, MetaType.HostUpdateNotificationAck);
    assert.equal(m.details.vpnIp, 0x0a2a0005);
  });

  it('a v1 tunnel message that carries both address forms keeps the 1.6 fields', () => {
    const m = decodeMeta(build('NebulaMeta', {
      Type: 2,
      Details: { OldVpnAddr: 0x0a2a0005, VpnAddr: mapped('10.42.0.9'), OldRelayVpnAddrs: [0x0a2a0001], RelayVpnAddrs: [mapped('10.42.0.2')], V4AddrPorts: [{ Addr: 0xc0a80001, Port: 4242 }] },
    }));
    assert.equal(m.details.vpnIp, 0x0a2a0005);
    assert.deepEqual(m.details.relayVpnIps, [0x0a2a0001]);
    assert.deepEqual(m.details.ip4AndPorts, [{ ip: 0xc0a80001, port: 4242 }]);
  });

  it('128-bit VpnAddr (6) and RelayVpnAddrs (7) alone: IPv4-mapped ones as numbers, IPv6 ones as bigints', () => {
    const m = decodeMeta(build('NebulaMeta', {
      Type: 1,
      Details: { VpnAddr: mapped('10.42.0.7'), RelayVpnAddrs: [mapped('10.42.0.1'), v6('fd00::1')] },
    }));
    assert.equal(m.type, MetaType.HostQuery);
    assert.equal(m.details.vpnIp, 0x0a2a0007);
    assert.deepEqual(m.details.relayVpnIps, [0x0a2a0001, 0xfd000000000000000000000000000001n]);
    const ipv6Only = decodeMeta(build('NebulaMeta', { Type: 1, Details: { VpnAddr: v6('fd00::7') } }));
    assert.equal(ipv6Only.details.vpnIp, 0xfd000000000000000000000000000007n, 'an IPv6 overlay address');
  });

  it('v2 form: a NebulaMeta with only the Addr fields, as Nebula 1.10+ sends on v2 tunnels', () => {
    const details = { ...emptyMetaDetails(), vpnIp: 0xfd000000000000000000000000000007n, relayVpnIps: [0x0a2a0001, 0xfd000000000000000000000000000001n] };
    const bytes = encodeMeta(MetaType.HostQuery, details, 'v2');
    const read = v111.lookupType('NebulaMeta').toObject(v111.lookupType('NebulaMeta').decode(bytes), { longs: String, defaults: false }) as {
      Details: { OldVpnAddr?: number; VpnAddr: { Hi: string; Lo: string }; OldRelayVpnAddrs?: number[]; RelayVpnAddrs: { Hi: string; Lo: string }[] };
    };
    assert.equal(read.Details.OldVpnAddr, undefined);
    assert.equal(read.Details.OldRelayVpnAddrs, undefined);
    assert.deepEqual(read.Details.VpnAddr, v6('fd00::7'));
    // proto3 leaves the zero Hi of an IPv4-mapped address out.
    assert.deepEqual(read.Details.RelayVpnAddrs, [{ Lo: mapped('10.42.0.1').Lo }, v6('fd00::1')]);
    assert.deepEqual(decodeMeta(bytes).details.vpnIp, details.vpnIp);
    assert.deepEqual(decodeMeta(bytes).details.relayVpnIps, details.relayVpnIps);
  });

  it('v1 form keeps the uint32 fields only, refuses an IPv6 subject and leaves IPv6 relays out', () => {
    const bytes = encodeMeta(MetaType.HostQueryReply, { ...emptyMetaDetails(), vpnIp: 0x0a2a0007, relayVpnIps: [0x0a2a0001, 0xfd000000000000000000000000000001n] });
    const read = v111.lookupType('NebulaMeta').toObject(v111.lookupType('NebulaMeta').decode(bytes), { defaults: false }) as { Details: Record<string, unknown> };
    assert.deepEqual(read.Details, { OldVpnAddr: 0x0a2a0007, OldRelayVpnAddrs: [0x0a2a0001] });
    assert.throws(() => encodeMeta(MetaType.HostQuery, { ...emptyMetaDetails(), vpnIp: 1n }), /IPv6 address cannot be sent on a v1 tunnel/);
    assert.throws(() => encodeControl({ type: ControlType.CreateRelayRequest, initiatorRelayIndex: 1, responderRelayIndex: 0, relayToIp: 1n, relayFromIp: 5 }), /v1 tunnel/);
  });

  it('NebulaControl in v2 form carries RelayToAddr/RelayFromAddr only, IPv6 ones included', () => {
    const m = { type: ControlType.CreateRelayRequest, initiatorRelayIndex: 7, responderRelayIndex: 0, relayToIp: 0xfd000000000000000000000000000003n, relayFromIp: 0x0a2a0004 };
    const bytes = encodeControl(m, 'v2');
    const read = v111.lookupType('NebulaControl').toObject(v111.lookupType('NebulaControl').decode(bytes), { longs: String, defaults: false }) as Record<string, unknown>;
    assert.equal(read['OldRelayToAddr'], undefined);
    assert.equal(read['OldRelayFromAddr'], undefined);
    assert.deepEqual(read['RelayToAddr'], v6('fd00::3'));
    assert.deepEqual(decodeControl(bytes), m);
  });

  it('NebulaControl with RelayToAddr (6) / RelayFromAddr (7), alone or beside the old fields', () => {
    const both = decodeControl(build('NebulaControl', { Type: 1, InitiatorRelayIndex: 7, OldRelayToAddr: 0x0a2a0003, OldRelayFromAddr: 0x0a2a0004, RelayToAddr: mapped('10.42.0.3'), RelayFromAddr: mapped('10.42.0.4') }));
    assert.deepEqual(both, { type: ControlType.CreateRelayRequest, initiatorRelayIndex: 7, responderRelayIndex: 0, relayToIp: 0x0a2a0003, relayFromIp: 0x0a2a0004 });
    const newOnly = decodeControl(build('NebulaControl', { Type: 2, ResponderRelayIndex: 9, RelayToAddr: mapped('10.42.0.3'), RelayFromAddr: mapped('10.42.0.4') }));
    assert.deepEqual(newOnly, { type: ControlType.CreateRelayResponse, initiatorRelayIndex: 0, responderRelayIndex: 9, relayToIp: 0x0a2a0003, relayFromIp: 0x0a2a0004 });
  });

  it('a handshake payload with CertVersion (8) decodes and reports the version', () => {
    const cert = randomBytes(40);
    const h = decodeHandshake(build('NebulaHandshake', { Details: { Cert: cert, InitiatorIndex: 5, Time: '1700000000000000000', CertVersion: 1 } }));
    assert.deepEqual({ ...h.details, cert: hex(h.details.cert) }, { cert: hex(cert), initiatorIndex: 5, responderIndex: 0, cookie: 0n, time: 1700000000000000000n, certVersion: 1 });
    assert.equal(decodeHandshake(build('NebulaHandshake', { Details: { Cert: cert, CertVersion: 2 } })).details.certVersion, 2);
    assert.equal(decodeHandshake(encodeHandshake({ details: { cert, initiatorIndex: 1, responderIndex: 0, cookie: 0n, time: 0n } })).details.certVersion, undefined);
  });
});
