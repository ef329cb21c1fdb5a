import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIp6, ipNetworkFromCidr, ipv4Cidr, ipv4Cidrs, parseIp6, parseIpNetwork, parseIpNumber, parseIpPrefix } from '../../../src/net/ip.js';

describe('IP text', () => {
  it('formats IPv6 in RFC 5952 form: the longest zero run is the one shortened', () => {
    assert.equal(formatIp6(parseIp6('1:0:0:2:0:0:0:3')), '1:0:0:2::3');
    assert.equal(formatIp6(parseIp6('1:0:0:2:3:0:0:4')), '1::2:3:0:0:4');
  });

  it('formats IPv4-mapped addresses with a dotted tail, as Go\'s netip (and so Nebula) does', () => {
    assert.equal(formatIp6(parseIp6('::ffff:1.2.3.4')), '::ffff:1.2.3.4');
    assert.equal(formatIp6(parseIp6('::ffff:102:304')), '::ffff:1.2.3.4');
    assert.equal(formatIp6(parseIp6('::fffe:102:304')), '::fffe:102:304', 'only the mapped prefix');
    assert.equal(formatIp6(parseIp6('::1.2.3.4')), '::102:304', 'IPv4-compatible stays hex, as in Go');
  });

  it('converts IPv4 networks for IPv4-only code and leaves IPv6 ones out of the list form', () => {
    const list = ['fd00::1/64', '10.0.0.1/8'].map(parseIpNetwork);
    assert.deepEqual(ipv4Cidrs(list), [{ ip: 0x0a000001, bits: 8 }]);
    assert.throws(() => ipv4Cidr(list[0]!), /fd00::1\/64 is not an IPv4 network/);
    assert.deepEqual(ipNetworkFromCidr({ ip: 0x0a000001, bits: 8 }), list[1]);
  });

  it('refuses zones and malformed dotted tails in IPv6 bytes', () => {
    for (const bad of ['fe80::1%eth0', '::1.2.3.04', '::1.2.3.256', ':: 1.2.3.4']) assert.throws(() => parseIp6(bad), Error, bad);
  });

  it('gives both families one number form, dropping an IPv6 zone', () => {
    assert.deepEqual(parseIpNumber('10.0.0.1'), { family: 4, value: 0x0a000001n });
    assert.deepEqual(parseIpNumber(0x0a000001), { family: 4, value: 0x0a000001n });
    assert.deepEqual(parseIpNumber('fe80::1%eth0'), { family: 6, value: (0xfe80n << 112n) | 1n });
    for (const bad of ['10.0.0', '010.0.0.1', 'fe80::g', 'host']) assert.equal(parseIpNumber(bad), null, bad);
  });

  it('reads prefixes of both families as networks', () => {
    assert.deepEqual(parseIpPrefix('10.1.2.3/8'), { family: 4, ip: 0x0a000000n, bits: 8 });
    assert.deepEqual(parseIpPrefix('2001:db8::1/32'), { family: 6, ip: 0x20010db8n << 96n, bits: 32 });
    assert.deepEqual(parseIpPrefix('::/0'), { family: 6, ip: 0n, bits: 0 });
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0', '10.0.0.0/x', 'bad/8']) assert.equal(parseIpPrefix(bad), null, bad);
  });
});
