/**
 * Joining hosts with `mesh ca serve` + `mesh ca token create` + `mesh join`, in network namespaces
 * (root; see src/lab/enroll.ts):
 *
 *   lh    mesh lighthouse 10.43.0.1 (signed with `mesh ca sign`) and `mesh ca serve` on :4243
 *   web1  joins with a token of two uses, container subnet auto
 *   web2  joins with the same token
 *   web3  the third use: refused; later joins with a new token from a restarted service whose
 *         certificates last 30 s, and renews itself while pinging web1
 *   ten concurrent joins from web2's namespace: distinct IPs and subnets, the ledger exact
 *
 * Then two Docker hosts (real dockerd, src/lab/docker.ts in enrollment mode) join and their
 * containers reach each other by name.
 *
 * The steps build on each other and run in order.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerLab, dockerSkipReason, NETWORK } from '../../src/lab/docker.js';
import { EnrollLab } from '../../src/lab/enroll.js';
import { labSkipReason } from '../../src/lab/lab.js';
import { eventually } from '../../src/lab/wait.js';
import { certificateFingerprint } from '../../pki/cert.js';
import { loadCertificate } from '../../pki/keys.js';
import { readLedgerState } from '../../pki/subnet-ledger.js';
import { formatIpNetwork, ipv4Cidr } from '../../src/net/ip.js';
import { skipOption } from '../helpers/skip.js';
import { labSteps } from '../helpers/lab-steps.js';

const skip = skipOption(await labSkipReason());
if (skip) process.stdout.write(`# enrollment integration tests skipped: ${skip}\n`);

describe('mesh ca serve, tokens and mesh join in a namespace lab', { skip, timeout: 300_000 }, () => {
  let lab: EnrollLab;
  let token = '';

  const step = labSteps('enroll', () => lab);

  const certOf = (name: string) => loadCertificate(join(lab.host(name).joinDir, 'host.crt'));

  before(async () => {
    lab = EnrollLab.create();
    for (const name of ['lh', 'web1', 'web2', 'web3']) await lab.addHost(name);
    await lab.startLighthouse();
    await lab.startService();
  });
  after(() => lab?.cleanup());

  it(
    'two hosts join with one token of two uses, get distinct IPs and container subnets, and reach each other',
    step(async () => {
      token = await lab.createToken(['--uses', '2', '--ttl', '10m', '--subnet', 'auto', '--name-prefix', 'web', '--groups', 'web']);
      for (const name of ['web1', 'web2']) {
        const r = await lab.join(name, token, name, lab.host(name).joinDir, ['--docker-bridge', 'cluster']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`joined as "${name}"`));
        lab.host(name).vpnIp = formatIpNetwork(certOf(name).details.networks[0]!).split('/')[0]!;
      }
      const [c1, c2] = [certOf('web1'), certOf('web2')];
      assert.deepEqual(c1.details.groups, ['web']);
      assert.notEqual(lab.host('web1').vpnIp, lab.host('web2').vpnIp);
      assert.notEqual(lab.host('web1').vpnIp, '10.43.0.1', 'the lighthouse address is never handed out');
      assert.equal(c1.details.unsafeNetworks.length, 1);
      assert.notEqual(formatIpNetwork(c1.details.unsafeNetworks[0]!), formatIpNetwork(c2.details.unsafeNetworks[0]!));
      assert.equal(statSync(join(lab.host('web1').joinDir, 'host.key')).mode & 0o777, 0o600);
      await lab.startJoined('web1');
      await lab.startJoined('web2');
      await lab.waitForPing('web1', 'web2', 30_000);
    }),
  );

  it(
    'the third use of the token is refused and changes nothing; a tampered token too',
    step(async () => {
      const before = readFileSync(lab.ledgerPath, 'utf8');
      const third = await lab.join('web3', token, 'web3', lab.host('web3').joinDir);
      assert.equal(third.code, 1, third.stdout);
      assert.match(third.stderr, /used up \(2 of 2 uses\)/);
      const payload = JSON.parse(Buffer.from(token.slice('meshjoin1.'.length), 'base64url').toString()) as Record<string, string>;
      const tampered = `meshjoin1.${Buffer.from(JSON.stringify({ ...payload, k: `${payload.k!.slice(0, -1)}${payload.k!.endsWith('A') ? 'B' : 'A'}` })).toString('base64url')}`;
      const forged = await lab.join('web3', tampered, 'web3', lab.host('web3').joinDir);
      assert.equal(forged.code, 1);
      assert.match(forged.stderr, /not known to this CA/);
      const wrongPin = `meshjoin1.${Buffer.from(JSON.stringify({ ...payload, p: '0'.repeat(64) })).toString('base64url')}`;
      const pinned = await lab.join('web3', wrongPin, 'web3', lab.host('web3').joinDir);
      assert.equal(pinned.code, 1);
      assert.match(pinned.stderr, /is not the pinned one/);
      assert.equal(readFileSync(lab.ledgerPath, 'utf8'), before);
    }),
  );

  it(
    'after a restart of the service the ledger holds; a host with a short certificate renews itself with its tunnel up',
    step(async () => {
      await lab.stop('ca');
      await lab.startService('30s');
      const short = await lab.createToken(['--uses', '1', '--name', 'web3']);
      const r = await lab.join('web3', short, 'web3', lab.host('web3').joinDir);
      assert.equal(r.code, 0, r.stderr);
      const first = certOf('web3');
      const ip = formatIpNetwork(first.details.networks[0]!).split('/')[0]!;
      assert.ok(![lab.host('web1').vpnIp, lab.host('web2').vpnIp, '10.43.0.1'].includes(ip), `web3 got a used IP ${ip}`);
      lab.host('web3').vpnIp = ip;
      await lab.startJoined('web3');
      await lab.waitForPing('web3', 'web1', 30_000);
      // Pings across the renewal (due 20 s after issue): the tunnel must carry them throughout.
      const pinging = lab.lab.exec(lab.host('web3').ns, 'ping', ['-n', '-c', '56', '-i', '0.5', '-W', '2', lab.host('web1').vpnIp], { timeoutMs: 120_000 });
      await lab.waitForLog('web3', /certificate renewed/, 60_000);
      const renewed = certOf('web3');
      assert.notEqual(certificateFingerprint(renewed), certificateFingerprint(first));
      assert.ok(renewed.details.notAfter > first.details.notAfter);
      assert.deepEqual(renewed.details.networks, first.details.networks);
      await lab.waitForLog('web3', /configuration reloaded/, 10_000);
      const result = await pinging;
      const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(result.stdout);
      assert.ok(m, result.stdout + result.stderr);
      assert.ok(Number(m[2]) >= Number(m[1]) - 2, `pings lost across the renewal: ${m[0]}`);
      assert.doesNotMatch(lab.log('web3'), /renewal failed/);
    }),
  );

  it(
    'ten concurrent joins get ten distinct IPs and subnets, and the ledger records exactly them',
    step(async () => {
      const many = await lab.createToken(['--uses', '10', '--subnet', 'auto', '--name-prefix', 'bulk']);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => lab.join('web2', many, `bulk${i}`, join(lab.dir, `bulk${i}`))));
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      const certs = Array.from({ length: 10 }, (_, i) => loadCertificate(join(lab.dir, `bulk${i}`, 'host.crt')));
      const ips = new Set(certs.map((c) => ipv4Cidr(c.details.networks[0]!).ip));
      const subnets = new Set(certs.map((c) => formatIpNetwork(c.details.unsafeNetworks[0]!)));
      assert.equal(ips.size, 10);
      assert.equal(subnets.size, 10);
      const ledger = readLedgerState(lab.ledgerPath);
      const allIps = ledger.addresses.map((e) => e.ip);
      assert.equal(new Set(allIps).size, allIps.length, `an IP recorded twice: ${allIps.join(', ')}`);
      assert.equal(allIps.length, 14, 'lh, web1, web2, web3 and the ten');
      const allSubnets = ledger.subnets.map((e) => e.subnet);
      assert.equal(new Set(allSubnets).size, allSubnets.length);
      assert.equal(allSubnets.length, 12);
      const extra = await lab.join('web2', many, 'bulk10', join(lab.dir, 'bulk10'));
      assert.match(extra.stderr, /used up \(10 of 10 uses\)/);
      const issued = readFileSync(join(lab.dir, 'ca.issued.log'), 'utf8').trim().split('\n');
      assert.ok(issued.length >= 14, `every issued certificate is logged (${issued.length})`);
    }),
  );
});

const dockerSkip = skipOption(await dockerSkipReason());
if (dockerSkip) process.stdout.write(`# enrollment Docker test skipped: ${dockerSkip}\n`);

describe('Docker hosts joined with mesh join', { skip: dockerSkip, timeout: 240_000 }, () => {
  let lab: DockerLab;
  after(() => lab?.cleanup());

  it('get distinct container subnets from one service, and their containers reach each other by name', async () => {
    lab = DockerLab.create({ namePrefix: 'mej', enroll: true });
    try {
      await lab.addHost('lh', { kind: 'lighthouse' });
      const ha = await lab.addHost('ha', { kind: 'docker' });
      const hb = await lab.addHost('hb', { kind: 'docker' });
      assert.notEqual(ha.subnet, hb.subnet);
      assert.notEqual(ha.vpnIp, hb.vpnIp);
      await lab.start('lh');
      await Promise.all(['ha', 'hb'].map((h) => lab.startDockerd(h)));
      await lab.start('ha');
      await lab.start('hb');
      await lab.runContainer('hb', 'web', hb.gateway!.replace(/\.1$/, '.10'), lab.httpdCommand(80, 'joined-web'));
      await lab.runContainer('ha', 'client', ha.gateway!.replace(/\.1$/, '.10'), ['sleep', '3600']);
      // busybox-static's `wget -T` crashes (1.35): bound it with `timeout` instead.
      const page = await eventually(`wget http://web.${NETWORK}/`, () => lab.exec('ha', 'client', ['timeout', '4', 'wget', '-q', '-O', '-', `http://web.${NETWORK}/`]), 30_000);
      assert.equal(page.stdout.trim(), 'joined-web');
    } catch (err) {
      process.stderr.write(`\n=== docker enroll lab ${lab?.lab.id} logs ===\n${lab?.allLogTails() ?? ''}\n=== end of logs ===\n`);
      throw err;
    }
  });
});
