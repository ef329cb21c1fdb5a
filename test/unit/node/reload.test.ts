/**
 * What a reload may change: the keys only a restart applies keep their running values (and are
 * named), the rest come from the new config; the TUN's kernel routes follow the new config, and a
 * route the kernel refuses undoes the whole change.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { TunRoute } from '../../../src/io/tun.js';
import { nebulaConfig, type NodeConfigOptions } from '../../../src/lab/configs.js';
import { makeCA, makeHost } from '../../../src/lab/pki.js';
import { parseIp } from '../../../src/net/ipv4.js';
import { parseConfig, type NodeConfig } from '../../../src/node/config.js';
import { keepRestartOnlyKeys, kernelRoutesOf, syncKernelRoutes } from '../../../src/node/reload.js';

const ca = makeCA('Reload CA', { ips: ['10.32.0.0/16'] });
const a = makeHost(ca, 'a', '10.32.0.1/16');

function configOf(options: Partial<NodeConfigOptions> = {}): NodeConfig {
  return parseConfig(nebulaConfig({ ca: a.ca, cert: a.certPem, key: a.keyPem, listen: { host: '0.0.0.0', port: 4242 }, ...options }), 'a.yml').config;
}

const silent = pino({ level: 'silent' });

describe('reload: the keys only a restart applies', () => {
  it('keeps their running values and names the changed ones; takes everything else from the new config', () => {
    const running = configOf({ tun: { dev: 'mesh3', mtu: 1300, fastPath: true } });
    const next = configOf({
      listen: { host: '0.0.0.0', port: 4343 },
      tun: { dev: 'mesh4', mtu: 1400, fastPath: false, unsafe_routes: [{ route: '10.99.1.0/24', via: '10.32.0.2' }] },
      cipher: 'chachapoly',
      punchy: { punch: false },
    });
    const { config, changed } = keepRestartOnlyKeys(running, next);
    assert.deepEqual(changed.sort(), ['cipher', 'listen.port', 'tun.dev', 'tun.fast_path', 'tun.mtu']);
    assert.equal(config.listen.port, 4242);
    assert.deepEqual([config.tun.dev, config.tun.mtu, config.tun.fastPath, config.cipher], ['mesh3', 1300, true, running.cipher]);
    // Reloadable: the new values.
    assert.deepEqual(config.tun.unsafeRoutes, next.tun.unsafeRoutes);
    assert.deepEqual(config.punchy, next.punchy);
  });

  it('names nothing when only reloadable keys changed', () => {
    const running = configOf();
    assert.deepEqual(keepRestartOnlyKeys(running, configOf({ punchy: { punch: false } })).changed, []);
  });
});

describe('reload: kernel routes', () => {
  const route = (cidr: string, extra: Partial<TunRoute> = {}): TunRoute => {
    const [ip, bits] = cidr.split('/');
    return { cidr: { ip: parseIp(ip!), bits: Number(bits) }, ...extra };
  };
  const text = (r: TunRoute) => `${r.cidr.ip}/${r.cidr.bits} ${r.mtu ?? 0} ${r.metric ?? 0}`;
  /** A TUN whose kernel holds a set of routes, refusing to add those in `refuse`. */
  function fakeTun(initial: TunRoute[], refuse: TunRoute[] = []) {
    const held = new Set(initial.map(text));
    const calls: string[] = [];
    const refused = new Set(refuse.map(text));
    return {
      held,
      calls,
      addRoute(r: TunRoute) {
        calls.push(`add ${text(r)}`);
        if (refused.has(text(r))) throw new Error('RTNETLINK answers: Invalid argument');
        held.add(text(r));
      },
      removeRoute(r: TunRoute) {
        calls.push(`remove ${text(r)}`);
        held.delete(text(r));
      },
    };
  }

  it('removes what is no longer configured, adds what is new, leaves the rest alone', () => {
    const [r1, r2, r3] = [route('10.99.1.0/24'), route('10.99.2.0/24', { metric: 100 }), route('10.99.3.0/24', { mtu: 1200 })];
    const tun = fakeTun([r1, r2]);
    syncKernelRoutes(tun, [r1, r2], [r2, r3], silent);
    assert.deepEqual(tun.calls, [`remove ${text(r1)}`, `add ${text(r3)}`]);
    assert.deepEqual([...tun.held].sort(), [text(r2), text(r3)].sort());
    // A route whose MTU or metric changed is another route: the old one goes, the new one comes.
    const r3b = route('10.99.3.0/24', { mtu: 1300 });
    syncKernelRoutes(tun, [r2, r3], [r2, r3b], silent);
    assert.deepEqual([...tun.held].sort(), [text(r2), text(r3b)].sort());
  });

  it('undoes every step when the kernel refuses a route, and says so', () => {
    const [r1, r2, r3, bad] = [route('10.99.1.0/24'), route('10.99.2.0/24'), route('10.99.3.0/24'), route('10.99.4.0/24')];
    const tun = fakeTun([r1, r2], [bad]);
    assert.throws(() => syncKernelRoutes(tun, [r1, r2], [r2, r3, bad], silent), /the kernel refused a route change \(RTNETLINK answers: Invalid argument\); routes left as they were/);
    assert.deepEqual([...tun.held].sort(), [text(r1), text(r2)].sort(), 'the kernel holds the routes it held before');
    assert.deepEqual(tun.calls, [`remove ${text(r1)}`, `add ${text(r3)}`, `add ${text(bad)}`, `remove ${text(r3)}`, `add ${text(r1)}`]);
  });

  it("are tun.routes and tun.unsafe_routes, with an unset MTU as the device's", () => {
    const config = configOf({ tun: { unsafe_routes: [{ route: '10.99.1.0/24', via: '10.32.0.2', mtu: 1200 }, { route: '10.99.2.0/24', via: '10.32.0.2' }] } });
    const routes = kernelRoutesOf(config);
    assert.deepEqual(
      routes.map((r) => [r.cidr.ip, r.cidr.bits, r.mtu]),
      [
        [parseIp('10.99.1.0'), 24, 1200],
        [parseIp('10.99.2.0'), 24, undefined],
      ],
    );
  });
});
