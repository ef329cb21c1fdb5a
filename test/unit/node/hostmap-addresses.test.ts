/** The host map indexes a tunnel by every address of its peer (v2 certificates: IPv4 and IPv6 networks). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseVpnAddr } from '../../../src/net/ip.js';
import { HostInfo, HostMap } from '../../../src/node/hostmap.js';

const V4 = parseVpnAddr('10.9.0.2');
const V6 = parseVpnAddr('fd09::2');

function tunnel(map: HostMap, addrs = [V4, V6]): HostInfo {
  const host = new HostInfo(addrs[0]!, map.allocateIndex(), map.remotesFor(addrs[0]!));
  host.vpnAddrs = addrs;
  return host;
}

describe('host map with several addresses per host', () => {
  it('finds a tunnel by each of its addresses, and forgets them all when it goes', () => {
    const map = new HostMap();
    const host = tunnel(map);
    map.add(host);
    assert.equal(map.get(V4), host);
    assert.equal(map.get(V6), host);
    assert.equal(map.size, 1, 'one tunnel, listed once');
    assert.deepEqual([...map.hosts()], [host]);
    assert.equal(map.remove(host), true);
    assert.equal(map.get(V4), undefined);
    assert.equal(map.get(V6), undefined);
  });

  it('a newer tunnel to the same host takes over every address; removing the old one then leaves them', () => {
    const map = new HostMap();
    const old = tunnel(map);
    const newer = tunnel(map);
    map.add(old);
    assert.equal(map.add(newer), old);
    assert.equal(map.get(V6), newer);
    map.remove(old);
    assert.equal(map.get(V6), newer);
    assert.equal(map.get(V4), newer);
  });

  it('numbers and bigints never collide: 10.9.0.2 and ::a09:2 are different hosts', () => {
    const map = new HostMap();
    const v4only = tunnel(map, [V4]);
    map.add(v4only);
    assert.equal(map.get(BigInt(V4 as number)), undefined);
    assert.equal(map.get(V4), v4only);
  });
});
