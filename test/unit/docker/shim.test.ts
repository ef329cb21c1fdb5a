import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { DockerUnavailableError, dockerSocketPath, HttpDockerEngine, type ContainerInfo } from '../../../src/docker/engine.js';
import { applyRules, removeTagged, shimRules, splitRuleLine } from '../../../src/docker/iptables.js';
import { bridgeNameFor, chooseContainerSubnet, DockerBridgeShim, networkCreateRequest, ShimError } from '../../../src/docker/shim.js';
import { within } from '../../../src/lab/wait.js';
import { formatIp, parseCidr } from '../../../src/net/ipv4.js';
import { FakeDockerd, FakeIptables } from '../../helpers/fake-docker.js';
import { waitFor } from '../../helpers/memory-mesh.js';

const log = pino({ level: process.env.MESH_TEST_LOG ?? 'silent' });
const OPTIONS = { network: 'cluster', subnet: parseCidr('10.200.2.0/24'), mtu: 1300, tun: 'mesh0', force: false };

describe('docker shim: pure parts', () => {
  it('chooses the container subnet from the certificate and explains every refusal', () => {
    const cert = [parseCidr('10.200.2.0/24'), parseCidr('10.201.0.0/24')];
    const ca = [parseCidr('10.200.0.0/16'), parseCidr('10.201.0.0/16')];
    assert.equal(chooseContainerSubnet(cert, ca, undefined, []).ip, parseCidr('10.200.2.0/24').ip);
    assert.equal(chooseContainerSubnet(cert, ca, '10.201.0.0/24', []).ip, parseCidr('10.201.0.0/24').ip);
    assert.throws(() => chooseContainerSubnet([], ca, undefined, []), /carries no subnets: sign it with `mesh ca sign \.\.\. --subnets auto`/);
    assert.throws(() => chooseContainerSubnet(cert, ca, '10.9.0.0/24', []), /not among the certificate's subnets/);
    assert.throws(() => chooseContainerSubnet(cert, [parseCidr('10.201.0.0/16')], undefined, []), /outside the CA's subnets/);
    assert.throws(() => chooseContainerSubnet(cert, ca, undefined, [parseCidr('10.200.0.5/16')]), /overlaps this host's own network 10\.200\.0\.0\/16/);
    assert.throws(() => chooseContainerSubnet([parseCidr('10.200.2.4/31')], [], undefined, []), /too small/);
    assert.deepEqual(chooseContainerSubnet([parseCidr('10.200.2.7/24')], ca, undefined, []), parseCidr('10.200.2.0/24'), 'a v2 unsafe network as written becomes its network');
  });

  it('asks Docker for a bridge on the subnet with gateway .1, the overlay MTU and a predictable bridge name', () => {
    const body = networkCreateRequest(OPTIONS);
    assert.deepEqual(body.IPAM, { Driver: 'default', Config: [{ Subnet: '10.200.2.0/24', Gateway: '10.200.2.1' }] });
    assert.equal(body.Options['com.docker.network.bridge.name'], 'mesh-cluster');
    assert.equal(body.Options['com.docker.network.driver.mtu'], '1300');
    assert.equal(bridgeNameFor('a-very-long-network-name'), 'mesh-a-very-lon');
  });

  it('applies its two rules once, removes stale ones with its tag, and nothing else', async () => {
    const ipt = new FakeIptables();
    const rules = shimRules({ tun: 'mesh0', bridge: 'mesh-cluster', subnet: '10.200.2.0/24' });
    assert.deepEqual(await applyRules(ipt.run, rules, 'mesh-docker:mesh-cluster'), { added: 2, removed: 0 });
    assert.deepEqual(await applyRules(ipt.run, rules, 'mesh-docker:mesh-cluster'), { added: 0, removed: 0 });
    assert.deepEqual(ipt.rules('filter', 'DOCKER-USER'), ['-i mesh0 -o mesh-cluster -m comment --comment mesh-docker:mesh-cluster -j ACCEPT', '-j RETURN']);
    assert.equal(ipt.rules('nat', 'POSTROUTING')[0], '-s 10.200.2.0/24 -o mesh0 -m comment --comment mesh-docker:mesh-cluster -j RETURN', 'before Docker\'s MASQUERADE');
    // A restart with another TUN name replaces the old rule instead of adding a second one.
    const moved = shimRules({ tun: 'mesh1', bridge: 'mesh-cluster', subnet: '10.200.2.0/24' });
    assert.deepEqual(await applyRules(ipt.run, moved, 'mesh-docker:mesh-cluster'), { added: 2, removed: 2 });
    assert.equal(ipt.rules('filter', 'DOCKER-USER').length, 2);
    ipt.chains.get('filter DOCKER-USER')!.push(['-s', '1.2.3.4', '-j', 'DROP']);
    assert.equal(await removeTagged(ipt.run, 'mesh-docker:mesh-cluster'), 2);
    assert.deepEqual(ipt.rules('filter', 'DOCKER-USER'), ['-j RETURN', '-s 1.2.3.4 -j DROP'], 'the user\'s rules stay');
    assert.deepEqual(ipt.rules('nat', 'POSTROUTING'), ['-s 10.200.2.0/24 ! -o mesh-cluster -j MASQUERADE']);
    assert.deepEqual(splitRuleLine('-A X -m comment --comment "a b" -j ACCEPT'), ['-A', 'X', '-m', 'comment', '--comment', 'a b', '-j', 'ACCEPT']);
  });

  it('DOCKER_HOST selects the socket; only unix:// is accepted', () => {
    assert.equal(dockerSocketPath({}), '/var/run/docker.sock');
    assert.equal(dockerSocketPath({ DOCKER_HOST: 'unix:///run/d.sock' }), '/run/d.sock');
    assert.throws(() => dockerSocketPath({ DOCKER_HOST: 'tcp://1.2.3.4:2375' }), /only unix:\/\/ sockets/);
  });
});

describe('docker shim against a fake Engine API', { timeout: 30_000 }, () => {
  let dockerd: FakeDockerd | null = null;
  let shim: DockerBridgeShim | null = null;
  afterEach(async () => {
    await shim?.stop();
    await dockerd?.dispose();
    shim = null;
    dockerd = null;
  });

  it('creates the network, follows a dockerd restart and a removed network, and removes only its rules on stop', async () => {
    dockerd = new FakeDockerd();
    await dockerd.start();
    const ipt = new FakeIptables();
    shim = new DockerBridgeShim(new HttpDockerEngine(dockerd.socketPath), ipt.run, OPTIONS, log);
    await shim.start();
    await within(shim.ready, 15_000, 'the shim ready against the fake dockerd');
    const net = dockerd.networks.get('cluster')!;
    assert.equal(net.Options!['com.docker.network.bridge.name'], 'mesh-cluster');
    assert.equal(ipt.rules('filter', 'DOCKER-USER').length, 2);
    await waitFor(() => dockerd!.streaming === 1, 3000, 'event stream');

    // The user removes the network: it comes back.
    await new HttpDockerEngine(dockerd.socketPath).removeNetwork(net.Id);
    await waitFor(() => dockerd!.networks.has('cluster'), 3000, 'network re-created');

    // dockerd restarts: the shim waits, then re-asserts, without duplicates.
    await dockerd.stop();
    dockerd.networks.clear();
    ipt.chains.set('filter DOCKER-USER', [['-j', 'RETURN']]);
    await dockerd.start();
    await waitFor(() => dockerd!.networks.has('cluster') && ipt.rules('filter', 'DOCKER-USER').length === 2, 8000, 're-asserted after restart');
    assert.equal(ipt.rules('nat', 'POSTROUTING').filter((r) => r.includes('mesh-docker')).length, 1);

    await shim.stop();
    shim = null;
    assert.deepEqual(ipt.rules('filter', 'DOCKER-USER'), ['-j RETURN']);
    assert.ok(dockerd.networks.has('cluster'), 'the network stays');
  });

  it('refuses a network of that name on another subnet unless --force, and never replaces one in use', async () => {
    dockerd = new FakeDockerd();
    await dockerd.start();
    dockerd.addNetwork('cluster', '172.30.0.0/24');
    const engine = new HttpDockerEngine(dockerd.socketPath);
    const ipt = new FakeIptables();
    await assert.rejects(new DockerBridgeShim(engine, ipt.run, OPTIONS, log).start(), (err: Error) => err instanceof ShimError && /exists on 172\.30\.0\.0\/24.*--force/.test(err.message));
    assert.equal(dockerd.networks.get('cluster')!.IPAM.Config![0]!.Subnet, '172.30.0.0/24', 'nothing changed');
    assert.equal(ipt.rules('filter', 'DOCKER-USER').length, 1);
    dockerd.addNetwork('cluster', '172.30.0.0/24', { abc: { Name: 'web', IPv4Address: '172.30.0.2/24' } });
    await assert.rejects(new DockerBridgeShim(engine, ipt.run, { ...OPTIONS, force: true }, log).start(), /1 container\(s\) use it/);
    dockerd.addNetwork('cluster', '172.30.0.0/24');
    shim = new DockerBridgeShim(engine, ipt.run, { ...OPTIONS, force: true }, log);
    await shim.start();
    assert.equal(dockerd.networks.get('cluster')!.IPAM.Config![0]!.Subnet, '10.200.2.0/24');
  });

  it('publishes container names, network aliases and Compose services of running, healthy containers, following events', async () => {
    dockerd = new FakeDockerd();
    await dockerd.start();
    const ipt = new FakeIptables();
    const told: Map<string, number[]>[] = [];
    shim = new DockerBridgeShim(new HttpDockerEngine(dockerd.socketPath), ipt.run, { ...OPTIONS, onNames: (names) => told.push(names) }, log);
    await shim.start();
    await waitFor(() => dockerd!.streaming === 1, 3000, 'event stream');
    const latest = () => Object.fromEntries([...(told[told.length - 1] ?? new Map<string, number[]>())].map(([name, ips]) => [name, ips.map(formatIp).sort()]));
    const container = (id: string, name: string, extra: { aliases?: string[]; labels?: Record<string, string>; running?: boolean; health?: string } = {}): ContainerInfo => ({
      Id: id.padEnd(64, '0'),
      Name: `/${name}`,
      State: { Running: extra.running ?? true, ...(extra.health ? { Health: { Status: extra.health } } : {}) },
      Config: { Labels: extra.labels ?? {} },
      NetworkSettings: { Networks: { cluster: { Aliases: [...(extra.aliases ?? []), id.padEnd(64, '0').slice(0, 12)], IPAddress: '' } } },
    });

    dockerd.setContainer('cluster', container('a1', 'api-1', { aliases: ['api', 'API-V2'] }), '10.200.2.10', 'start');
    dockerd.setContainer('cluster', container('c1', 'shop-api-1', { labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'api' } }), '10.200.2.11', 'start');
    await waitFor(() => latest()['api']?.length === 2, 3000, 'two replicas of api');
    assert.deepEqual(latest(), {
      'api-1': ['10.200.2.10'],
      api: ['10.200.2.10', '10.200.2.11'],
      'api-v2': ['10.200.2.10'],
      'shop-api-1': ['10.200.2.11'],
      'api.shop': ['10.200.2.11'],
    });

    // A health-checked replica counts once it is healthy, and no longer once it is not.
    // The shim publishes its table after every re-read, changed or not: the next one answers for the event.
    const published = told.length;
    dockerd.setContainer('cluster', container('h1', 'api-h', { aliases: ['api'], health: 'starting' }), '10.200.2.12', 'start');
    await waitFor(() => told.length > published, 3000, 'names re-read after the start event');
    assert.equal(latest()['api-h'], undefined, 'not healthy yet');
    dockerd.setContainer('cluster', container('h1', 'api-h', { aliases: ['api'], health: 'healthy' }), '10.200.2.12', 'health_status: healthy');
    await waitFor(() => latest()['api']?.length === 3, 3000, 'healthy replica in');
    dockerd.setContainer('cluster', container('h1', 'api-h', { aliases: ['api'], health: 'unhealthy' }), '10.200.2.12', 'health_status: unhealthy');
    await waitFor(() => latest()['api']?.length === 2 && latest()['api-h'] === undefined, 3000, 'unhealthy replica out');

    // A stopped container leaves the network: its names go.
    dockerd.setContainer('cluster', container('a1', 'api-1', { aliases: ['api'], running: false }), '10.200.2.10', 'die');
    await waitFor(() => latest()['api']?.length === 1 && latest()['api-1'] === undefined, 3000, 'stopped replica out');
    assert.deepEqual(latest()['api'], ['10.200.2.11']);
  });

  it('waits for a dockerd that is not there yet instead of failing', async () => {
    dockerd = new FakeDockerd();
    const ipt = new FakeIptables();
    const engine = new HttpDockerEngine(dockerd.socketPath);
    await assert.rejects(engine.version(), (err: Error) => err instanceof DockerUnavailableError && /is dockerd running\?/.test(err.message));
    shim = new DockerBridgeShim(engine, ipt.run, OPTIONS, log);
    await shim.start();
    await dockerd.start();
    await within(shim.ready, 15_000, 'the shim ready against the fake dockerd');
    assert.ok(dockerd.networks.has('cluster'));
  });

  it('a wedged dockerd (silent, or stalled mid-answer) times every call out, so start-up goes on and the shim recovers', async () => {
    dockerd = new FakeDockerd();
    await dockerd.start();
    const ipt = new FakeIptables();
    const engine = new HttpDockerEngine(dockerd.socketPath, 300);
    const timedOut = (what: string) => (err: Error) => err instanceof DockerUnavailableError && err.message.includes(`did not answer ${what} within 0.3s (dockerd wedged?)`);
    dockerd.wedge = 'silent';
    await assert.rejects(engine.version(), timedOut('GET /version'));
    dockerd.wedge = 'midway';
    await assert.rejects(engine.version(), timedOut('GET /version'));
    shim = new DockerBridgeShim(engine, ipt.run, OPTIONS, log);
    await shim.start(); // returns: waiting in the background, not hanging
    assert.equal(dockerd.networks.size, 0);
    dockerd.wedge = null;
    await within(shim.ready, 15_000, 'the shim ready against the fake dockerd');
    assert.ok(dockerd.networks.has('cluster'));
  });
});
