import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import {
  checkWireTypes,
  ProtobufError,
  SCALAR_WIRE_TYPES,
  strictDecoder,
  WIRE_BYTES,
  WIRE_VARINT,
  wireChecksFor,
  type MessageCheck,
  type MessageSchema,
  type ScalarType,
} from '../../../src/protocol/protobuf.js';
import { decodeControl, decodeMeta, encodeControl, encodeHandshake, encodeMeta, emptyMetaDetails } from '../../../src/protocol/messages.js';

const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));

const INNER: MessageSchema = { name: 'Inner', fields: [{ id: 1, name: 'N', type: 'uint32' }] };
const OUTER_SCHEMA: MessageSchema = {
  name: 'Outer',
  fields: [
    { id: 1, name: 'Name', type: 'string' },
    { id: 2, name: 'Ids', type: 'uint32', repeated: true },
    { id: 3, name: 'Inner', type: INNER },
    { id: 4, name: 'Big', type: 'uint64' },
    { id: 5, name: 'F', type: 'fixed32' },
  ],
};
const OUTER = wireChecksFor(OUTER_SCHEMA);

// The same messages through protobufjs's reflection, as an independent decoder.
const root = protobuf.parse(`
  syntax = "proto3";
  message Inner { uint32 N = 1; }
  message Outer { string Name = 1; repeated uint32 Ids = 2; Inner Inner = 3; uint64 Big = 4; fixed32 F = 5; }
`).root;
const OuterType = root.lookupType('Outer');

describe('wireChecksFor', () => {
  it('derives accepted wire types from the schema', () => {
    assert.deepEqual(OUTER.fields[1], { name: 'Name', wire: [WIRE_BYTES], utf8: true });
    assert.deepEqual(OUTER.fields[2], { name: 'Ids', wire: [WIRE_VARINT, WIRE_BYTES], repeated: true, packedVarints: true });
    assert.deepEqual(OUTER.fields[3]!.message!.fields[1], { name: 'N', wire: [WIRE_VARINT] });
    assert.deepEqual(OUTER.fields[4], { name: 'Big', wire: [WIRE_VARINT] });
    assert.deepEqual(OUTER.fields[5], { name: 'F', wire: [5] });
  });

  it("gives each scalar type protobufjs's wire type, and the packed form to those protobufjs packs", () => {
    const scalars = Object.keys(SCALAR_WIRE_TYPES) as ScalarType[];
    assert.deepEqual(new Set(scalars), new Set(Object.keys(protobuf.types.basic)));
    const lists = wireChecksFor({ name: 'Lists', fields: scalars.map((type, i) => ({ id: i + 1, name: type, type, repeated: true })) });
    scalars.forEach((type, i) => {
      const basic = (protobuf.types.basic as Record<string, number>)[type]!;
      const packed = (protobuf.types.packed as Record<string, number | undefined>)[type] !== undefined;
      assert.deepEqual(lists.fields[i + 1]!.wire, packed ? [basic, WIRE_BYTES] : [basic], type);
      assert.equal(lists.fields[i + 1]!.packedVarints === true, packed && basic === WIRE_VARINT, type);
    });
  });

  it('checks a message that embeds itself', () => {
    const fields: MessageSchema['fields'][number][] = [];
    const tree: MessageSchema = { name: 'Tree', fields };
    fields.push({ id: 1, name: 'Child', type: tree });
    const checks = wireChecksFor(tree);
    assert.equal(checks.fields[1]!.message, checks);
    checkWireTypes(unhex('0a02 0a00'), checks);
    assert.throws(() => checkWireTypes(unhex('0a02 0801'), checks), /^ProtobufError: field Child\.Child \(1\) has wrong wire type 0$/);
  });
});

describe('checkWireTypes', () => {
  const ok = (h: string) => checkWireTypes(unhex(h), OUTER);
  const bad = (h: string, re: RegExp) => assert.throws(() => ok(h), (e: unknown) => e instanceof ProtobufError && re.test(e.message));

  it('accepts valid messages, packed and unpacked, unknown fields of every valid wire type', () => {
    ok('');
    ok('0a026869 1003 12020102 1a020801 20ffffffffffffffffff01 2d01020304');
    ok('3001 3a00 410102030405060708 4d01020304');
  });

  it('rejects wrong wire types for known fields', () => {
    bad('0801', /^field Outer\.Name \(1\) has wrong wire type 0$/);
    bad('1501020304', /^field Outer\.Ids \(2\) has wrong wire type 5$/);
    bad('1a02 0a00', /^field Inner\.N \(1\) has wrong wire type 2$/);
    bad('2801', /^field Outer\.F \(5\) has wrong wire type 0$/);
  });

  it('rejects truncation, garbage, groups and field 0', () => {
    bad('0a05', /^truncated Outer\.Name: needs 5 bytes, 0 left$/);
    bad('20ff', /truncated varint/);
    bad('120180', /truncated varint/);
    bad('20ffffffffffffffffffff01', /longer than 10 bytes/);
    bad('3d0102', /truncated/);
    bad('4101', /truncated/);
    bad('33', /invalid wire type 3/);
    bad('34', /invalid wire type 4/);
    bad('37', /invalid wire type 7/);
    bad('0001', /field number 0/);
    bad('0a02c328', /UTF-8/);
    bad('80', /^truncated varint in Outer$/);
  });

  it('rejects tags wider than 32 bits (as Go does) and tags or lengths longer than 5 bytes', () => {
    ok('f8ffffff0f01'); // field 2^29 - 1, the largest
    bad('f8ffffff1f01', /^invalid field tag in Outer$/);
    bad('f88080801001', /^invalid field tag in Outer$/); // field 15 plus bit 32
    bad('f88080808000 01', /^invalid field tag in Outer$/);
    ok('0a8080808000'); // a non-minimal 5-byte length of 0
    bad('0a8080808010' + '00'.repeat(8), /^truncated Outer\.Name: needs 4294967296 bytes, 8 left$/);
    bad('0a808080808000' + '00'.repeat(8), /^length of Outer\.Name is too large$/);
  });

  it('options: varint overflow and duplicate singular fields', () => {
    const overflow = unhex('20ffffffffffffffffff7f');
    checkWireTypes(overflow, OUTER);
    assert.throws(() => checkWireTypes(overflow, OUTER, { rejectVarintOverflow: true }), /^ProtobufError: varint overflows 64 bits in Outer\.Big$/);
    const twice = unhex('0801 0802');
    const single: MessageCheck = { name: 'U', fields: { 1: { name: 'A', wire: [WIRE_VARINT] } } };
    checkWireTypes(twice, single);
    assert.throws(() => checkWireTypes(twice, single, { rejectDuplicateFields: true }), /^ProtobufError: field U\.A \(1\) appears more than once$/);
    const list: MessageCheck = { name: 'U', fields: { 1: { name: 'A', wire: [WIRE_VARINT], repeated: true } } };
    checkWireTypes(twice, list, { rejectDuplicateFields: true });
  });
});

describe('strictDecoder', () => {
  const decodeOuter = strictDecoder(OUTER_SCHEMA, (bytes) => OuterType.decode(bytes));

  it('checks the wire format first, then decodes', () => {
    assert.deepEqual(OuterType.toObject(decodeOuter(unhex('0a026869 1a020805'))), { Name: 'hi', Inner: { N: 5 } });
    assert.throws(() => decodeOuter(unhex('1a02 0a00')), (e: unknown) => e instanceof ProtobufError && /Inner\.N/.test(e.message));
  });

  it("makes the decoder's own errors ProtobufErrors", () => {
    const failing = strictDecoder(OUTER_SCHEMA, () => {
      throw new RangeError('index out of range');
    });
    assert.throws(() => failing(unhex('0801')), /^ProtobufError: field Outer\.Name \(1\) has wrong wire type 0$/);
    assert.throws(() => failing(unhex('')), (e: unknown) => e instanceof ProtobufError && e.message === 'Outer: index out of range');
  });
});

describe('message encoders validate their input', () => {
  it('throws ProtobufError for values outside the field type', () => {
    const ctl = { type: 1, initiatorRelayIndex: 0, responderRelayIndex: 0, relayToIp: 0, relayFromIp: 0 };
    assert.throws(() => encodeControl({ ...ctl, relayToIp: -1 }), ProtobufError);
    assert.throws(() => encodeControl({ ...ctl, relayToIp: 2 ** 32 }), ProtobufError);
    assert.throws(() => encodeControl({ ...ctl, type: 2 ** 31 }), ProtobufError);
    assert.throws(() => encodeMeta(1, { ...emptyMetaDetails(), relayVpnIps: [1.5] }), ProtobufError);
    assert.throws(() => encodeMeta(1, { ...emptyMetaDetails(), ip6AndPorts: [{ hi: -1n, lo: 0n, port: 1 }] }), ProtobufError);
    const d = { cert: new Uint8Array(0), initiatorIndex: 0, responderIndex: 0, cookie: 0n, time: 2n ** 64n };
    assert.throws(() => encodeHandshake({ details: d }), ProtobufError);
  });

  it('decoders reject wrong wire types inside nested messages and never return stale shared arrays', () => {
    assert.throws(() => decodeMeta(unhex('1204 1202 0a00')), /^ProtobufError: field ip4AndPorts\.ip \(1\) has wrong wire type 2$/);
    assert.throws(() => decodeMeta(unhex('1204 2202 0a00')), /^ProtobufError: field ip6AndPorts\.hi \(1\) has wrong wire type 2$/);
    const a = decodeMeta(unhex('1200'));
    a.details.relayVpnIps.push(1);
    a.details.ip4AndPorts.push({ ip: 1, port: 1 });
    assert.deepEqual(decodeMeta(unhex('1200')).details, emptyMetaDetails());
    assert.deepEqual(decodeControl(unhex('0802 0802')).type, 2);
  });
});
