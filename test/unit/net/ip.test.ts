import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import { formatIp6, ipFamily, ipNetworkFromCidr, ipv4Cidr, ipv4Cidrs, parseIp6, parseIpNetwork, parseIpNumber, parseIpPrefix } from '../../../src/net/ip.js';

describe('IP text', () => {
  it('tells address families apart as node:net isIP does, on tricky and on generated text', () => {
    const tricky = [
      '', ' ', '1.2.3.4', ' 1.2.3.4', '1.2.3.4 ', '01.2.3.4', '1.2.3.04', '0.0.0.0', '255.255.255.255', '256.1.1.1', '1.2.3',
      '1.2.3.4.', '.1.2.3.4', '1..2.3', '1234.1.1.1', '1.2.3.4.5', '::', ':', ':::', '::1', '1::', '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', '::1:2:3:4:5:6:7:8', '1::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:',
      ':1:2:3:4:5:6:7:8', '1::2::3', ':1::2', '1:::2', 'fe80::1%eth0', 'fe80::1%', 'fe80::1%eth 0', 'fe80::1%a:b.c-d',
      '1:2:3:4:5:6:7:8%x::', 'fe80%1::', '::ffff:1.2.3.4', '::1.2.3.4', '::ffff:1.2.3', '1:2:3:4:5:6:1.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4', '1:2:3:4:5::1.2.3.4', '1:2:3:4:5:6::1.2.3.4', '1.2.3.4::', '1.2.3.4::1', '::1.2.3.4:1',
      '12345::', '::12345', 'abcd:ABCD:0:00:000:0000:Ff:fF', 'g::1', '[::1]', '::1.2.3.04', '::256.1.1.1', '1::1.2.3.4%z',
    ];
    for (const text of tricky) assert.equal(ipFamily(text), isIP(text), JSON.stringify(text));

    // Seeded, so a failure names a reproducible input.
    let seed = 0x2545f491;
    const next = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const tokens = ['0', '1', 'f', 'ff', 'fff', 'ffff', 'fffff', 'A', '00', '01', '255', '256', '1234', ':', ':', '::', '.', '.', '%', 'eth0', ' ', 'g', '-'];
    for (let n = 0; n < 20000; n++) {
      let text = '';
      const length = 1 + next(14);
      for (let t = 0; t < length; t++) text += tokens[next(tokens.length)];
      assert.equal(ipFamily(text), isIP(text), JSON.stringify(text));
    }
    // Valid addresses of every compressed shape, then each with one character dropped or doubled.
    for (let n = 0; n < 3000; n++) {
      const groups = Array.from({ length: 8 }, () => (next(3) === 0 ? '0' : next(0x10000).toString(16)));
      const from = next(9);
      const to = from + next(9 - from);
      let text = to > from ? `${groups.slice(0, from).join(':')}::${groups.slice(to).join(':')}` : groups.join(':');
      if (next(4) === 0) text = text.replace(/[0-9a-f]+:[0-9a-f]+$/, `${next(256)}.${next(256)}.${next(256)}.${next(300)}`);
      if (next(5) === 0) text += '%eth0';
      assert.equal(ipFamily(text), isIP(text), JSON.stringify(text));
      const at = next(text.length);
      for (const variant of [text.slice(0, at) + text.slice(at + 1), text.slice(0, at + 1) + text.slice(at)]) {
        assert.equal(ipFamily(variant), isIP(variant), JSON.stringify(variant));
      }
    }
  });

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
