import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseYaml } from '../../../src/yaml.js';
import { UserError } from '../../../src/errors.js';
import { allowListAllows, localAllowListAllowsName } from '../../../src/net/allow-list.js';
import { parseCidr, parseIp } from '../../../src/net/ipv4.js';
import { loadConfig, parseConfig } from '../../../src/node/config.js';
import { mergeConfig } from '../../../src/node/config/files.js';
import { PORT_ANY, PORT_FRAGMENT } from '../../../src/node/config/firewall.js';
import { parseDuration } from '../../../src/node/config/values.js';

const PKI = { ca: '/etc/nebula/ca.crt', cert: '/etc/nebula/host.crt', key: '/etc/nebula/host.key' };

function cfg(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { pki: PKI, ...extra };
}

/** Expects parseConfig to throw a UserError whose message mentions every fragment. */
function throwsNaming(raw: unknown, ...fragments: string[]): void {
  assert.throws(
    () => parseConfig(raw, 'test.yml'),
    (err: unknown) => {
      assert.ok(err instanceof UserError, `expected UserError, got ${String(err)}`);
      for (const f of fragments) assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
      return true;
    },
  );
}

const tmp = mkdtempSync(join(tmpdir(), 'mesh-config-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// A realistic Nebula 1.6 node config, shaped like Nebula's own examples/config.yml.
const NEBULA_EXAMPLE = `
pki:
  ca: /etc/nebula/ca.crt
  cert: /etc/nebula/host.crt
  key: /etc/nebula/host.key
  blocklist:
    - c99d4e650533b92061b09918e838a5a0a6aaee21eed1d12fd937682865936c72
  #disconnect_invalid: false

static_host_map:
  "192.168.100.1": ["100.64.22.11:4242"]

lighthouse:
  am_lighthouse: false
  #serve_dns: false
  #dns:
    #host: 0.0.0.0
    #port: 53
  interval: 60
  hosts:
    - "192.168.100.1"
  remote_allow_list:
    "0.0.0.0/0": true
    "10.0.0.0/8": false
    "10.42.42.0/24": true
  remote_allow_ranges:
    "10.42.42.0/24":
      "192.168.0.0/16": true
  local_allow_list:
    interfaces:
      tun0: false
      'docker.*': false
    "10.0.0.0/8": true
  advertise_addrs:
    - "1.1.1.1:4242"
    - "1.2.3.4:0"

listen:
  host: 0.0.0.0
  port: 4242
  #batch: 64
  #read_buffer: 10485760
  #write_buffer: 10485760
  #send_recv_error: always

punchy:
  punch: true
  #respond: true
  #delay: 1s

#cipher: chachapoly
#preferred_ranges: ["172.16.0.0/24"]

#sshd:
  #enabled: true

relay:
  #relays:
    #- 192.168.100.1
  am_relay: false
  use_relays: true

tun:
  disabled: false
  dev: nebula1
  drop_local_broadcast: false
  drop_multicast: false
  tx_queue: 500
  mtu: 1300
  routes:
    #- mtu: 8800
    #  route: 10.0.0.0/16
  unsafe_routes:
    #- route: 172.16.1.0/24
    #  via: 192.168.100.99
    #  mtu: 1300
    #  metric: 100

logging:
  level: info
  format: text
  #disable_timestamp: true
  #timestamp_format: "2006-01-02T15:04:05.000Z07:00"

#stats:
  #type: graphite

#handshakes:
  #try_interval: 100ms
  #retries: 20
  #trigger_buffer: 64

firewall:
  conntrack:
    tcp_timeout: 12m
    udp_timeout: 3m
    default_timeout: 10m

  outbound:
    - port: any
      proto: any
      host: any

  inbound:
    - port: any
      proto: icmp
      host: any

    - port: 443
      proto: tcp
      groups:
        - laptop
        - home
`;

const MINIMAL_LIGHTHOUSE = `
pki: {ca: /etc/nebula/ca.crt, cert: /etc/nebula/lighthouse.crt, key: /etc/nebula/lighthouse.key}
static_host_map: {}
lighthouse: {am_lighthouse: true}
listen: {host: 0.0.0.0, port: 4242}
relay: {am_relay: true}
tun: {disabled: true}
logging: {level: info}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound:  [{port: any, proto: icmp, host: any}]
`;

const MINIMAL_NODE = `
pki: {ca: /etc/nebula/ca.crt, cert: /etc/nebula/host.crt, key: /etc/nebula/host.key}
static_host_map: {"10.42.0.1": ["203.0.113.10:4242"]}
lighthouse: {am_lighthouse: false, interval: 60, hosts: ["10.42.0.1"]}
listen: {host: 0.0.0.0, port: 0}
punchy: {punch: true, respond: true}
relay: {relays: ["10.42.0.1"], use_relays: true}
tun: {dev: nebula1, mtu: 1300, unsafe_routes: []}
firewall:
  conntrack: {tcp_timeout: 12m, udp_timeout: 3m, default_timeout: 10m}
  outbound: [{port: any, proto: any, host: any}]
  inbound:  [{port: any, proto: icmp, host: any}, {port: 22, proto: tcp, group: admins}]
`;

describe('parseDuration', () => {
  it('reads Go duration syntax', () => {
    assert.equal(parseDuration('100ms', 'k'), 100);
    assert.equal(parseDuration('1s', 'k'), 1000);
    assert.equal(parseDuration('12m', 'k'), 720_000);
    assert.equal(parseDuration('1h30m', 'k'), 5_400_000);
    assert.equal(parseDuration('1.5s', 'k'), 1500);
    assert.equal(parseDuration('2h45m30.5s', 'k'), (2 * 3600 + 45 * 60 + 30.5) * 1000);
    assert.equal(parseDuration('500us', 'k'), 0.5);
    assert.equal(parseDuration('0', 'k'), 0);
  });
  it('reads plain numbers as seconds', () => {
    assert.equal(parseDuration(10, 'k'), 10_000);
    assert.equal(parseDuration('5', 'k'), 5000);
  });
  it('rejects garbage naming the key', () => {
    for (const bad of ['abc', '10x', '1h30', 'ms', '', '-5s', '1 s']) {
      assert.throws(() => parseDuration(bad, 'handshakes.try_interval'), /config: handshakes\.try_interval: expected a (non-negative )?duration/, bad);
    }
  });
});

describe('parseConfig: Nebula-shaped files', () => {
  it('parses a realistic Nebula 1.6 example config', () => {
    const { config, warnings } = parseConfig(parseYaml(NEBULA_EXAMPLE), 'example.yml');
    assert.deepEqual(warnings, []);
    assert.equal(config.pki.ca, '/etc/nebula/ca.crt');
    assert.deepEqual(config.pki.blocklist, ['c99d4e650533b92061b09918e838a5a0a6aaee21eed1d12fd937682865936c72']);
    assert.deepEqual([...config.staticHostMap.entries()], [[parseIp('192.168.100.1'), [{ host: '100.64.22.11', port: 4242 }]]]);
    assert.equal(config.lighthouse.interval, 60_000);
    assert.deepEqual(config.lighthouse.hosts, [parseIp('192.168.100.1')]);
    assert.deepEqual(config.lighthouse.advertiseAddrs, [
      { host: '1.1.1.1', port: 4242 },
      { host: '1.2.3.4', port: 0 },
    ]);
    // remote_allow_list: most specific wins.
    const ral = config.lighthouse.remoteAllowList;
    assert.equal(allowListAllows(ral, '8.8.8.8'), true);
    assert.equal(allowListAllows(ral, '10.1.2.3'), false);
    assert.equal(allowListAllows(ral, '10.42.42.7'), true);
    assert.equal(allowListAllows(ral, '2001:db8::1'), true); // implicit ::/0 = !true... no v6 rules -> allow
    assert.equal(config.lighthouse.remoteAllowRanges.length, 1);
    assert.equal(allowListAllows(config.lighthouse.remoteAllowRanges[0]!.allowList, '192.168.1.1'), true);
    assert.equal(allowListAllows(config.lighthouse.remoteAllowRanges[0]!.allowList, '8.8.8.8'), false);
    const lal = config.lighthouse.localAllowList!;
    assert.equal(localAllowListAllowsName(lal, 'tun0'), false);
    assert.equal(localAllowListAllowsName(lal, 'docker0'), false);
    assert.equal(localAllowListAllowsName(lal, 'eth0'), true);
    assert.equal(localAllowListAllowsName(lal, 'xtun0'), true, 'interface regex must match the whole name');
    assert.equal(allowListAllows(lal, '10.1.1.1'), true);
    assert.equal(allowListAllows(lal, '192.168.1.1'), false);
    assert.equal(config.listen.port, 4242);
    assert.equal(config.punchy.punch, true);
    assert.equal(config.punchy.respond, false);
    assert.equal(config.tun.dev, 'nebula1');
    assert.deepEqual(config.tun.routes, []);
    assert.deepEqual(config.tun.unsafeRoutes, []);
    assert.equal(config.firewall.outbound.length, 1);
    assert.equal(config.firewall.inbound.length, 2);
    const r = config.firewall.inbound[1]!;
    assert.equal(r.startPort, 443);
    assert.equal(r.endPort, 443);
    assert.equal(r.proto, 'tcp');
    assert.deepEqual(r.groups, ['laptop', 'home']);
    assert.equal(config.firewall.inbound[0]!.startPort, PORT_ANY);
  });

  it('parses the minimal lighthouse and node from the notes', () => {
    const lh = parseConfig(parseYaml(MINIMAL_LIGHTHOUSE), 'lh.yml');
    assert.deepEqual(lh.warnings, []);
    assert.equal(lh.config.lighthouse.amLighthouse, true);
    assert.equal(lh.config.relay.amRelay, true);
    assert.equal(lh.config.tun.disabled, true);
    const node = parseConfig(parseYaml(MINIMAL_NODE), 'node.yml');
    assert.deepEqual(node.warnings, []);
    assert.deepEqual(node.config.relay.relays, [parseIp('10.42.0.1')]);
    assert.equal(node.config.punchy.respond, true);
    assert.deepEqual(node.config.firewall.inbound[1]!.groups, ['admins']);
    assert.equal(node.config.firewall.conntrack.tcpTimeout, 12 * 60_000);
  });

  it('applies Nebula defaults', () => {
    const { config, warnings } = parseConfig(cfg(), 'x');
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.pki.blocklist, []);
    assert.equal(config.pki.disconnectInvalid, false);
    assert.equal(config.pki.initiatingVersion, null, 'chosen from the certificates held');
    assert.equal(config.staticHostMap.size, 0);
    assert.equal(config.lighthouse.amLighthouse, false);
    assert.equal(config.lighthouse.interval, 10_000);
    assert.deepEqual(config.lighthouse.hosts, []);
    assert.equal(config.lighthouse.remoteAllowList, null);
    assert.equal(config.lighthouse.localAllowList, null);
    assert.equal(config.lighthouse.serveDns, false);
    assert.deepEqual(config.lighthouse.dns, { host: '', port: 53 });
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 0, batch: 64, readBuffer: 0, writeBuffer: 0, offload: true, sendRecvError: 'always' });
    assert.ok(!('routines' in config), 'routines is read and checked, not kept: mesh has one data-path thread');
    assert.deepEqual(config.punchy, { punch: false, respond: false, delay: 1000, respondDelay: 5000 });
    assert.equal(config.cipher, 'aes');
    assert.deepEqual(config.preferredRanges, []);
    assert.deepEqual(config.relay, { relays: [], amRelay: false, useRelays: true });
    assert.deepEqual(config.tun, {
      disabled: false, dev: null, mtu: 1300, txQueue: 500, dropLocalBroadcast: false, dropMulticast: false, offload: true, fastPath: true, ioUring: true, routes: [], unsafeRoutes: [],
    });
    assert.deepEqual(config.logging, { level: 'info', format: 'text', disableTimestamp: false, timestampFormat: '' });
    assert.deepEqual(config.handshakes, { tryInterval: 100, retries: 10, triggerBuffer: 64, incomingPerSecond: 2000, incomingBurst: 4000 });
    assert.deepEqual(config.timers, { connectionAliveInterval: 5000, pendingDeletionInterval: 10_000 });
    assert.deepEqual(config.firewall.conntrack, { tcpTimeout: 720_000, udpTimeout: 180_000, defaultTimeout: 600_000, maxConnections: 100_000 });
    assert.deepEqual(config.firewall.inbound, []);
    assert.deepEqual(config.firewall.outbound, []);
    assert.deepEqual(config.stats, { type: '', listen: null, path: '/metrics', namespace: '', subsystem: '', interval: 10_000, messageMetrics: false, lighthouseMetrics: false });
    assert.deepEqual(config.control, { socket: '' });
    assert.equal(config.sshd, null);
  });

  it('reads every supported key when set', () => {
    const { config, warnings } = parseConfig(
      cfg({
        pki: { ...PKI, blacklist: ['AA'.repeat(32)], disconnect_invalid: true, initiating_version: 2 },
        static_host_map: { '10.0.0.1': '[2001:db8::1]:4242', '10.0.0.2': ['lh.example.com:4243', '198.51.100.2:4242'] },
        lighthouse: { am_lighthouse: true, interval: '30s', serve_dns: true, dns: { host: '10.0.0.1', port: 5353 } },
        listen: { host: '[::]', port: '4242', batch: 128, read_buffer: 10485760, write_buffer: 10485760, send_recv_error: 'private' },
        routines: 2,
        punchy: { punch: 'yes', respond: 'y', delay: '250ms', respond_delay: '2s' },
        cipher: 'chachapoly',
        preferred_ranges: ['172.16.0.0/24'],
        local_range: '192.168.0.0/16',
        relay: { relays: ['10.0.0.5'], use_relays: false },
        tun: {
          dev: 'mesh0', mtu: 1400, tx_queue: 1000, drop_local_broadcast: true, drop_multicast: true,
          routes: [{ mtu: 8800, route: '10.0.0.0/16' }],
          unsafe_routes: [{ route: '172.16.1.0/24', via: '10.0.0.99', mtu: 1300, metric: 100 }, { route: '172.16.2.0/24', via: '10.0.0.98' }],
        },
        logging: { level: 'debug', format: 'json', disable_timestamp: true, timestamp_format: '2006-01-02' },
        handshakes: { try_interval: '200ms', retries: 20, trigger_buffer: 32, incoming_per_second: 500, incoming_burst: 1000 },
        timers: { connection_alive_interval: 7, pending_deletion_interval: '15s' },
        firewall: { conntrack: { tcp_timeout: '1h', udp_timeout: '30s', default_timeout: '1m', max_connections: 500 } },
      }),
      'x',
    );
    assert.deepEqual(warnings, ['pki.blacklist: deprecated, use pki.blocklist (entries merged)', 'routines: mesh forwards on one thread, 2 is ignored']);
    assert.deepEqual(config.pki.blocklist, ['aa'.repeat(32)]);
    assert.equal(config.pki.disconnectInvalid, true);
    assert.equal(config.pki.initiatingVersion, 2);
    assert.deepEqual(config.staticHostMap.get(parseIp('10.0.0.1')), [{ host: '2001:db8::1', port: 4242 }]);
    assert.deepEqual(config.staticHostMap.get(parseIp('10.0.0.2')), [
      { host: 'lh.example.com', port: 4243 },
      { host: '198.51.100.2', port: 4242 },
    ]);
    assert.equal(config.lighthouse.interval, 30_000);
    assert.deepEqual(config.lighthouse.dns, { host: '10.0.0.1', port: 5353 });
    assert.deepEqual(config.listen, { host: '::', port: 4242, batch: 128, readBuffer: 10485760, writeBuffer: 10485760, offload: true, sendRecvError: 'private' });
    assert.deepEqual(config.punchy, { punch: true, respond: true, delay: 250, respondDelay: 2000 });
    assert.equal(config.cipher, 'chachapoly');
    assert.deepEqual(config.preferredRanges, [parseCidr('172.16.0.0/24'), parseCidr('192.168.0.0/16')]);
    assert.deepEqual(config.relay, { relays: [parseIp('10.0.0.5')], amRelay: false, useRelays: false });
    assert.equal(config.tun.mtu, 1400);
    assert.deepEqual(config.tun.routes, [{ mtu: 8800, route: parseCidr('10.0.0.0/16') }]);
    assert.deepEqual(config.tun.unsafeRoutes, [
      { route: parseCidr('172.16.1.0/24'), via: parseIp('10.0.0.99'), mtu: 1300, metric: 100 },
      { route: parseCidr('172.16.2.0/24'), via: parseIp('10.0.0.98'), mtu: 0, metric: 0 },
    ]);
    assert.deepEqual(config.logging, { level: 'debug', format: 'json', disableTimestamp: true, timestampFormat: '2006-01-02' });
    assert.deepEqual(config.handshakes, { tryInterval: 200, retries: 20, triggerBuffer: 32, incomingPerSecond: 500, incomingBurst: 1000 });
    assert.deepEqual(config.timers, { connectionAliveInterval: 7000, pendingDeletionInterval: 15_000 });
    assert.deepEqual(config.firewall.conntrack, { tcpTimeout: 3_600_000, udpTimeout: 30_000, defaultTimeout: 60_000, maxConnections: 500 });
  });

  it('accepts the legacy punchy/punch_back forms and send_recv_error booleans', () => {
    assert.deepEqual(parseConfig(cfg({ punchy: true, punch_back: true }), 'x').config.punchy, { punch: true, respond: true, delay: 1000, respondDelay: 5000 });
    assert.equal(parseConfig(cfg({ listen: { send_recv_error: false } }), 'x').config.listen.sendRecvError, 'never');
    assert.equal(parseConfig(cfg({ listen: { send_recv_error: true } }), 'x').config.listen.sendRecvError, 'always');
  });

  it('keeps inline PEM strings as they are', () => {
    const pem = '-----BEGIN NEBULA CERTIFICATE-----\nCkAKDm5lYnVsYSB0ZXN0IENBKJ\n-----END NEBULA CERTIFICATE-----\n';
    const yaml = `pki:\n  ca: |\n${pem.split('\n').filter(Boolean).map((l) => `    ${l}`).join('\n')}\n  cert: /c\n  key: /k\n`;
    const { config } = parseConfig(parseYaml(yaml), 'x');
    assert.equal(config.pki.ca, pem);
  });
});

describe('parseConfig: errors and warnings', () => {
  it('names the key and the expectation for every bad type', () => {
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ tun: { mtu: 'abc' } }, ['config: tun.mtu: expected an integer', '"abc"']],
      [{ tun: { mtu: 499 } }, ['tun.mtu', '500']],
      [{ tun: { mtu: 1300.5 } }, ['tun.mtu']],
      [{ tun: { disabled: 'maybe' } }, ['tun.disabled', 'boolean']],
      [{ tun: { dev: ['a'] } }, ['tun.dev']],
      [{ tun: { tx_queue: -1 } }, ['tun.tx_queue']],
      [{ tun: { routes: { mtu: 1 } } }, ['tun.routes', 'list']],
      [{ tun: { routes: [{ route: '10.0.0.0/16' }] } }, ['tun.routes[0].mtu', 'required']],
      [{ tun: { routes: [{ mtu: 400, route: '10.0.0.0/16' }] } }, ['tun.routes[0].mtu']],
      [{ tun: { routes: [{ mtu: 1300, route: 'nope' }] } }, ['tun.routes[0].route', 'CIDR']],
      [{ tun: { unsafe_routes: [{ route: '172.16.0.0/24' }] } }, ['tun.unsafe_routes[0].via', 'required']],
      [{ tun: { unsafe_routes: [{ route: '172.16.0.0/24', via: 'x' }] } }, ['tun.unsafe_routes[0].via', 'IPv4']],
      [{ tun: { unsafe_routes: [{ route: '172.16.0.0/24', via: '10.0.0.1', metric: -1 }] } }, ['tun.unsafe_routes[0].metric']],
      [{ tun: { unsafe_routes: [{ route: '172.16.0.0/24', via: '10.0.0.1', mtu: 100 }] } }, ['tun.unsafe_routes[0].mtu']],
      [{ tun: 'yes' }, ['config: tun: expected a mapping']],
      [{ listen: { port: 70000 } }, ['listen.port', 'between 0 and 65535']],
      [{ listen: { port: 'x' } }, ['listen.port']],
      [{ listen: { batch: 0 } }, ['listen.batch']],
      [{ listen: { send_recv_error: 'sometimes' } }, ['listen.send_recv_error', 'always, never, private']],
      [{ listen: { host: { a: 1 } } }, ['listen.host', 'string']],
      [{ routines: 0 }, ['routines']],
      [{ cipher: 'des' }, ['cipher', 'aes, chachapoly']],
      [{ punchy: { delay: 'soon' } }, ['punchy.delay', 'duration']],
      [{ punchy: { punch: 'perhaps' } }, ['punchy.punch']],
      [{ punchy: 'perhaps' }, ['punchy']],
      [{ preferred_ranges: ['10.0.0.0'] }, ['preferred_ranges[0]', 'CIDR']],
      [{ local_range: 'x' }, ['local_range']],
      [{ relay: { relays: ['nope'] } }, ['relay.relays[0]', 'IPv4']],
      [{ relay: { am_relay: 3 } }, ['relay.am_relay']],
      [{ logging: { level: 'loud' } }, ['logging.level']],
      [{ logging: { format: 'xml' } }, ['logging.format', 'text, json']],
      [{ handshakes: { try_interval: 'fast' } }, ['handshakes.try_interval']],
      [{ handshakes: { retries: 'many' } }, ['handshakes.retries']],
      [{ timers: { connection_alive_interval: -5 } }, ['timers.connection_alive_interval']],
      [{ timers: { pending_deletion_interval: 0 } }, ['timers.pending_deletion_interval']],
      [{ firewall: { conntrack: { tcp_timeout: 'forever' } } }, ['firewall.conntrack.tcp_timeout']],
      [{ firewall: { conntrack: { udp_timeout: '0s' } } }, ['firewall.conntrack.udp_timeout']],
      [{ firewall: { conntrack: { max_connections: 0 } } }, ['firewall.conntrack.max_connections']],
      [{ firewall: { inbound: { port: 1 } } }, ['firewall.inbound', 'list']],
      [{ firewall: { inbound: [{ port: 'http', proto: 'tcp', host: 'any' }] } }, ['firewall.inbound[0].port']],
      [{ firewall: { inbound: [{ proto: 'tcp', host: 'any' }] } }, ['firewall.inbound[0].port', 'required']],
      [{ firewall: { outbound: [{ port: 'any', proto: 'sctp', host: 'any' }] } }, ['firewall.outbound[0].proto']],
      [{ firewall: { outbound: [{ port: 'any', host: 'any' }] } }, ['firewall.outbound[0].proto']],
      [{ firewall: { inbound: [{ port: 'any', proto: 'any' }] } }, ['firewall.inbound[0]', 'at least one of host']],
      [{ firewall: { inbound: [{ port: 'any', proto: 'any', group: 'a', groups: ['b'] }] } }, ['firewall.inbound[0]', 'group or groups']],
      [{ firewall: { inbound: [{ port: 'any', proto: 'any', group: ['a', 'b'] }] } }, ['firewall.inbound[0].group']],
      [{ firewall: { inbound: [{ port: 'any', code: 'any', proto: 'any', host: 'any' }] } }, ['firewall.inbound[0]', 'port or code']],
      [{ firewall: { inbound: [{ port: '900-200', proto: 'tcp', host: 'any' }] } }, ['firewall.inbound[0].port', 'greater']],
      [{ firewall: { inbound: [{ port: '1-x', proto: 'tcp', host: 'any' }] } }, ['firewall.inbound[0].port']],
      [{ firewall: { inbound: [{ port: 70000, proto: 'tcp', host: 'any' }] } }, ['firewall.inbound[0].port']],
      [{ firewall: { inbound: [{ port: 'any', proto: 'tcp', cidr: '10.0.0.0/33' }] } }, ['firewall.inbound[0].cidr']],
      [{ firewall: { inbound: [{ port: 'any', proto: 'tcp', host: { a: 1 } }] } }, ['firewall.inbound[0].host']],
      [{ firewall: { inbound: ['allow all'] } }, ['firewall.inbound[0]']],
      [{ static_host_map: { 'lighthouse.example': ['1.2.3.4:4242'] } }, ['static_host_map', 'lighthouse.example', 'IPv4']],
      [{ static_host_map: { '10.0.0.1': ['1.2.3.4'] } }, ['static_host_map."10.0.0.1"[0]', 'host:port']],
      [{ static_host_map: { '10.0.0.1': ['1.2.3.4:0'] } }, ['static_host_map."10.0.0.1"[0]', 'port']],
      [{ static_host_map: { '10.0.0.1': ['1.2.3.4:99999'] } }, ['static_host_map."10.0.0.1"[0]', 'port']],
      [{ static_host_map: { '10.0.0.1': [] } }, ['static_host_map."10.0.0.1"']],
      [{ static_host_map: ['1.2.3.4:4242'] }, ['static_host_map', 'mapping']],
      [{ lighthouse: { hosts: ['10.0.0.1'] } }, ['lighthouse.hosts[0]', 'static_host_map']],
      [{ lighthouse: { hosts: ['nope'] } }, ['lighthouse.hosts[0]', 'IPv4']],
      [{ lighthouse: { hosts: '10.0.0.1' } }, ['lighthouse.hosts', 'list']],
      [{ lighthouse: { interval: 'often' } }, ['lighthouse.interval']],
      [{ lighthouse: { am_lighthouse: 'sure' } }, ['lighthouse.am_lighthouse']],
      [{ lighthouse: { advertise_addrs: ['1.2.3.4'] } }, ['lighthouse.advertise_addrs[0]']],
      [{ lighthouse: { dns: { port: 'dns' } } }, ['lighthouse.dns.port']],
      [{ lighthouse: { remote_allow_list: ['10.0.0.0/8'] } }, ['lighthouse.remote_allow_list', 'mapping']],
      [{ lighthouse: { remote_allow_list: { 'not-a-cidr': true } } }, ['lighthouse.remote_allow_list."not-a-cidr"']],
      [{ lighthouse: { remote_allow_list: { '10.0.0.0/8': 'sometimes' } } }, ['lighthouse.remote_allow_list."10.0.0.0/8"']],
      [{ lighthouse: { remote_allow_list: { '10.0.0.0/8': true, '10.1.0.0/16': false } } }, ['lighthouse.remote_allow_list', '0.0.0.0/0']],
      [{ lighthouse: { remote_allow_ranges: { '10.0.0.0/8': { '1.0.0.0/8': 'x' } } } }, ['lighthouse.remote_allow_ranges."10.0.0.0/8"']],
      [{ lighthouse: { remote_allow_ranges: { nope: { '1.0.0.0/8': true } } } }, ['lighthouse.remote_allow_ranges', 'nope']],
      [{ lighthouse: { local_allow_list: { interfaces: { eth0: true, tun0: false } } } }, ['lighthouse.local_allow_list.interfaces', 'same']],
      [{ lighthouse: { local_allow_list: { interfaces: { '(': true } } } }, ['lighthouse.local_allow_list.interfaces', 'regular expression']],
      [{ pki: { ...PKI, blocklist: ['xyz'] } }, ['pki.blocklist[0]', 'fingerprint']],
      [{ pki: { ...PKI, disconnect_invalid: 'maybe' } }, ['pki.disconnect_invalid']],
      [{ pki: { ...PKI, ca: 42 } }, ['pki.ca']],
      [{ pki: { ...PKI, initiating_version: 3 } }, ['pki.initiating_version', '1 or 2']],
      [{ pki: { ...PKI, initiating_version: 'v2' } }, ['pki.initiating_version', '1 or 2']],
      [{ stats: 'on' }, ['stats', 'mapping']],
    ];
    for (const [extra, fragments] of cases) throwsNaming(cfg(extra), ...fragments);
  });

  it('requires pki.ca, pki.cert and pki.key', () => {
    throwsNaming({}, 'pki.ca', 'required');
    throwsNaming({ pki: { ca: '/ca' } }, 'pki.cert', 'required');
    throwsNaming({ pki: { ca: '/ca', cert: '/c' } }, 'pki.key', 'required');
  });

  it('gives one warning per unknown key, naming it', () => {
    const { warnings } = parseConfig(
      cfg({
        bogus: 1,
        tun: { dev: 'x', colour: 'blue' },
        listen: { routines: 2 },
        lighthouse: { calculated_remotes: {} },
        firewall: { conntrack: { routine_cache_timeout: '1s' }, inbound: [{ port: 'any', proto: 'any', host: 'any', local_cidr: '10.0.0.0/8' }] },
      }),
      'x',
    );
    // local_cidr is read (Nebula 1.10), not warned about.
    assert.equal(warnings.length, 5, warnings.join('\n'));
    for (const key of ['bogus', 'tun.colour', 'listen.routines', 'lighthouse.calculated_remotes', 'firewall.conntrack.routine_cache_timeout']) {
      assert.equal(warnings.filter((w) => w.startsWith(`${key}:`)).length, 1, `one warning for ${key}`);
    }
  });

  it('reads stats (prometheus) with Nebula\'s keys, warns about graphite and sshd as unsupported', () => {
    const stats = { type: 'prometheus', listen: '127.0.0.1:8080', path: '/m', namespace: 'nebula', subsystem: 'host', interval: '5s', message_metrics: true, lighthouse_metrics: true };
    const { warnings, config } = parseConfig(cfg({ stats, sshd: { enabled: true, listen: '127.0.0.1:2222' } }), 'x');
    assert.deepEqual(warnings.map((w) => w.split(':')[0]), ['sshd']);
    assert.match(warnings[0]!, /^sshd: .*not supported/);
    assert.deepEqual(config.stats, {
      type: 'prometheus', listen: { host: '127.0.0.1', port: 8080 }, path: '/m', namespace: 'nebula', subsystem: 'host', interval: 5000, messageMetrics: true, lighthouseMetrics: true,
    });
    const graphite = parseConfig(cfg({ stats: { type: 'graphite', prefix: 'nebula', protocol: 'tcp', host: '127.0.0.1:9999', interval: '10s' } }), 'x');
    assert.deepEqual(graphite.warnings, ['stats.type: graphite is not supported by mesh (use prometheus), no metrics are exported']);
    assert.throws(() => parseConfig(cfg({ stats: { type: 'prometheus' } }), 'x'), /stats\.listen: expected a "host:port"/);
    assert.throws(() => parseConfig(cfg({ stats: { type: 'prometheus', listen: '127.0.0.1:8080', path: 'metrics' } }), 'x'), /stats\.path/);
    assert.throws(() => parseConfig(cfg({ stats: { type: 'prometheus', listen: '127.0.0.1:8080', namespace: 'a-b' } }), 'x'), /stats\.namespace/);
    assert.throws(() => parseConfig(cfg({ stats: { type: 'influx' } }), 'x'), /stats\.type/);
  });

  it('warns (but works) for a bare number where Nebula wants a Go duration', () => {
    const { config, warnings } = parseConfig(cfg({ punchy: { delay: 2 } }), 'x');
    assert.equal(config.punchy.delay, 2000);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /punchy\.delay/);
  });
});

describe('loadConfig', () => {
  it('loads a file', () => {
    const file = join(tmp, 'node.yml');
    writeFileSync(file, MINIMAL_NODE);
    const loaded = loadConfig(file);
    assert.equal(loaded.source, file);
    assert.equal(loaded.config.lighthouse.hosts.length, 1);
  });

  it('names a missing file', () => {
    assert.throws(() => loadConfig(join(tmp, 'missing.yml')), (e: unknown) => e instanceof UserError && e.message.includes('missing.yml') && /no such file/.test(e.message));
  });

  it('names a broken YAML file', () => {
    const file = join(tmp, 'broken.yml');
    writeFileSync(file, 'pki:\n  ca: [unclosed\n  cert: x\n');
    assert.throws(() => loadConfig(file), (e: unknown) => e instanceof UserError && e.message.includes('broken.yml') && e.message.includes('invalid YAML'));
    const dup = join(tmp, 'dup.yml');
    writeFileSync(dup, 'tun:\n  mtu: 1300\ntun:\n  mtu: 1400\n');
    assert.throws(() => loadConfig(dup), (e: unknown) => e instanceof UserError && e.message.includes('dup.yml'));
    const scalar = join(tmp, 'scalar.yml');
    writeFileSync(scalar, 'just a string\n');
    assert.throws(() => loadConfig(scalar), (e: unknown) => e instanceof UserError && e.message.includes('scalar.yml') && e.message.includes('mapping'));
  });

  it('merges a directory of *.yml/*.yaml in lexical order (later scalars win, lists append)', () => {
    const dir = join(tmp, 'conf.d');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, '10-base.yml'), MINIMAL_NODE);
    writeFileSync(join(dir, '20-override.yaml'), 'tun:\n  mtu: 1400\nfirewall:\n  inbound:\n    - {port: 443, proto: tcp, host: web}\n');
    writeFileSync(join(dir, '30-last.yml'), 'tun:\n  mtu: 1500\n');
    writeFileSync(join(dir, 'sub', '40-nested.yml'), 'logging:\n  level: debug\n');
    writeFileSync(join(dir, 'README.txt'), 'not: [yaml\n');
    writeFileSync(join(dir, '15-empty.yml'), '# only a comment\n');
    const loaded = loadConfig(dir);
    assert.equal(loaded.config.tun.mtu, 1500);
    assert.equal(loaded.config.tun.dev, 'nebula1');
    assert.equal(loaded.config.logging.level, 'debug');
    assert.deepEqual(
      loaded.config.firewall.inbound.map((r) => r.startPort),
      [PORT_ANY, 22, 443],
    );
    assert.match(loaded.source, /10-base\.yml, 15-empty\.yml, 20-override\.yaml, 30-last\.yml, sub\/40-nested\.yml/);
  });

  it('errors on an empty directory', () => {
    const dir = join(tmp, 'empty.d');
    mkdirSync(dir);
    assert.throws(() => loadConfig(dir), /no \*\.yml/);
  });

  it('mergeConfig keeps the earlier value when the later one is null', () => {
    assert.deepEqual(mergeConfig({ a: { b: 1, c: [1] } }, { a: { b: null, c: [2], d: 3 } }), { a: { b: 1, c: [1, 2], d: 3 } });
  });
});

describe('port specs', () => {
  it('parses any, 0, numbers, ranges, fragment and code', () => {
    const rules = parseConfig(
      cfg({
        firewall: {
          inbound: [
            { port: 0, proto: 'any', host: 'any' },
            { port: '200-901', proto: 'tcp', host: 'any' },
            { port: 'fragment', proto: 'any', host: 'any' },
            { code: 'any', proto: 'icmp', host: 'any' },
            { port: '0-100', proto: 'udp', host: 'any' },
          ],
        },
      }),
      'x',
    ).config.firewall.inbound;
    assert.deepEqual(rules.map((r) => [r.startPort, r.endPort]), [
      [PORT_ANY, PORT_ANY],
      [200, 901],
      [PORT_FRAGMENT, PORT_FRAGMENT],
      [PORT_ANY, PORT_ANY],
      [PORT_ANY, PORT_ANY],
    ]);
  });

  it('reads IPv6 in firewall cidr/local_cidr and in tun.unsafe_routes (Nebula 1.10+)', () => {
    const { config, warnings } = parseConfig(
      cfg({
        tun: { unsafe_routes: [{ route: 'fd77::/64', via: 'fd00::9' }, { route: '172.16.0.0/24', via: '10.0.0.9' }] },
        firewall: { inbound: [{ port: 22, proto: 'tcp', cidr: 'fd00::/120', local_cidr: 'fd00::1/128' }] },
      }),
      'x',
    );
    assert.deepEqual(warnings, []);
    const rule = config.firewall.inbound[0]!;
    assert.deepEqual([rule.cidr, rule.localCidr], [
      { family: 6, ip: 0xfd000000000000000000000000000000n, bits: 120 },
      { family: 6, ip: 0xfd000000000000000000000000000001n, bits: 128 },
    ]);
    assert.deepEqual(config.tun.unsafeRoutes.map((r) => [r.route, r.via]), [
      [{ family: 6, ip: 0xfd770000000000000000000000000000n, bits: 64 }, 0xfd000000000000000000000000000009n],
      [{ ip: 0xac100000, bits: 24 }, 0x0a000009],
    ]);
    assert.throws(() => parseConfig(cfg({ tun: { unsafe_routes: [{ route: 'fd77::/129', via: 'fd00::9' }] } }), 'x'), /tun\.unsafe_routes\[0\]\.route/);
    assert.throws(() => parseConfig(cfg({ firewall: { inbound: [{ port: 1, proto: 'tcp', host: 'any', local_cidr: 'fd00::1' }] } }), 'x'), /local_cidr/);
  });
});
