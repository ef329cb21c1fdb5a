import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCertificate } from '../../../pki/keys.js';
import { addressHolder, checkNotHandedOut, chooseAddress, chooseSubnet, ledgerPathFor, readLedger, readLedgerState, recordAddress, recordSubnets } from '../../../pki/subnet-ledger.js';
import { formatCidr, parseCidr, parseIp } from '../../../src/net/ipv4.js';
import { formatIpNetwork } from '../../../src/net/ip.js';
import { MESH_BIN } from '../../../src/lab/binaries.js';
import { within } from '../../../src/lab/wait.js';

/** The bundled CLI that package.json's bin names: what users run. */
const BIN = MESH_BIN;

function mesh(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function meshAsync(cwd: string, ...args: string[]): Promise<number> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: 'ignore' });
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  return within(exited, 60_000, `mesh ${args.join(' ')}`).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
}

function withCA(fn: (dir: string) => Promise<void> | void, caSubnets = '10.200.0.0/16') {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mesh-ledger-'));
    try {
      const init = mesh(dir, 'ca', 'init', '--name', 'acme', '--ips', '10.42.0.0/16', ...(caSubnets ? ['--subnets', caSubnets] : []), '--out-crt', 'ca.crt', '--out-key', 'ca.key');
      assert.equal(init.code, 0, init.stderr);
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function subnetsOf(dir: string, crt: string): string[] {
  return loadCertificate(join(dir, crt)).details.unsafeNetworks.map(formatIpNetwork);
}

test('chooseSubnet: lowest free /24, the held one for a known name, skips overlaps, reports exhaustion', () => {
  const ca = [parseCidr('10.200.0.0/23')];
  const at = new Date(0);
  let entries = recordSubnets([], 'a', [chooseSubnet(ca, [], 'a')], at);
  assert.deepEqual(entries.map((e) => e.subnet), ['10.200.0.0/24']);
  assert.equal(formatCidr(chooseSubnet(ca, entries, 'a')), '10.200.0.0/24', 'a renewal keeps the subnet');
  entries = recordSubnets(entries, 'b', [chooseSubnet(ca, entries, 'b')], at);
  assert.deepEqual(entries.map((e) => e.subnet), ['10.200.0.0/24', '10.200.1.0/24']);
  assert.throws(() => chooseSubnet(ca, entries, 'c'), /every \/24 in the CA's subnets \(10\.200\.0\.0\/23\) is handed out/);
  assert.throws(() => chooseSubnet([], [], 'c'), /the CA has no subnets/);
  // An explicit /25 somewhere blocks its whole /24 for auto.
  const explicit = recordSubnets([], 'x', [parseCidr('10.200.0.128/25')], at);
  assert.equal(formatCidr(chooseSubnet(ca, explicit, 'y')), '10.200.1.0/24');
  assert.throws(() => checkNotHandedOut([parseCidr('10.200.0.0/16')], explicit, 'y'), /overlaps 10\.200\.0\.128\/25, handed to "x"/);
  checkNotHandedOut([parseCidr('10.200.0.0/16')], explicit, 'x');
});

test('mesh ca sign --subnets auto hands out distinct /24s, keeps a host\'s subnet on renewal and refuses reuse', withCA((dir) => {
  for (const [name, ip] of [['hostA', '10.42.0.2/16'], ['hostB', '10.42.0.3/16']]) {
    const r = mesh(dir, 'ca', 'sign', '--name', name!, '--ip', ip!, '--subnets', 'auto');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${name}: subnet 10\\.200\\.\\d\\.0/24`));
  }
  assert.deepEqual(subnetsOf(dir, 'hostA.crt'), ['10.200.0.0/24']);
  assert.deepEqual(subnetsOf(dir, 'hostB.crt'), ['10.200.1.0/24']);
  const renew = mesh(dir, 'ca', 'sign', '--name', 'hostA', '--ip', '10.42.0.2/16', '--subnets', 'auto', '--force');
  assert.equal(renew.code, 0, renew.stderr);
  assert.deepEqual(subnetsOf(dir, 'hostA.crt'), ['10.200.0.0/24']);
  const clash = mesh(dir, 'ca', 'sign', '--name', 'hostC', '--ip', '10.42.0.4/16', '--subnets', '10.200.1.0/25');
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /subnet 10\.200\.1\.0\/25 overlaps 10\.200\.1\.0\/24, handed to "hostB"/);
  assert.ok(!existsSync(join(dir, 'hostC.crt')), 'nothing written');
  const explicit = mesh(dir, 'ca', 'sign', '--name', 'hostD', '--ip', '10.42.0.5/16', '--subnets', '10.200.2.0/24');
  assert.equal(explicit.code, 0, explicit.stderr);
  const next = mesh(dir, 'ca', 'sign', '--name', 'hostE', '--ip', '10.42.0.6/16', '--subnets', 'auto');
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(subnetsOf(dir, 'hostE.crt'), ['10.200.3.0/24'], 'explicit subnets are recorded too');
  const ledger = readLedger(ledgerPathFor(join(dir, 'ca.key')));
  assert.deepEqual(ledger.map((e) => `${e.name} ${e.subnet}`).sort(), ['hostA 10.200.0.0/24', 'hostB 10.200.1.0/24', 'hostD 10.200.2.0/24', 'hostE 10.200.3.0/24']);
  assert.ok(existsSync(join(dir, 'ca.subnets.json')));
}));

test('concurrent mesh ca sign --subnets auto never hands out one subnet twice', withCA(async (dir) => {
  const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
  const codes = await Promise.all(names.map((n, i) => meshAsync(dir, 'ca', 'sign', '--name', n, '--ip', `10.42.1.${i + 1}/16`, '--subnets', 'auto')));
  assert.deepEqual(codes, names.map(() => 0));
  const subnets = names.map((n) => subnetsOf(dir, `${n}.crt`)[0]);
  assert.equal(new Set(subnets).size, names.length, `distinct: ${subnets.join(' ')}`);
}));

test('--subnets auto errors: CA without subnets, broken ledger, a failed signing leaves the ledger as it was', withCA((dir) => {
  const none = mesh(dir, 'ca', 'sign', '--name', 'h', '--ip', '10.42.0.2/16', '--subnets', 'auto');
  assert.equal(none.code, 1);
  assert.match(none.stderr, /the CA has no subnets to allocate from/);
  writeFileSync(join(dir, 'ca.subnets.json'), '{"version":1,"allocations":[{"subnet":"nope"}]}');
  const broken = mesh(dir, 'ca', 'sign', '--name', 'h', '--ip', '10.42.0.2/16', '--subnets', '10.9.0.0/24');
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /ca\.subnets\.json: not a subnet ledger/);
  writeFileSync(join(dir, 'ca.subnets.json'), '{"version":1,"allocations":[]}');
  const outsideCa = mesh(dir, 'ca', 'sign', '--name', 'h', '--ip', '10.43.0.2/16', '--subnets', '10.9.0.0/24');
  assert.equal(outsideCa.code, 1);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'ca.subnets.json'), 'utf8')).allocations, []);
}, ''));

test('chooseAddress: lowest free host address, the held one for a known name, skips reserved ones, reports exhaustion', () => {
  const network = parseCidr('10.42.0.0/29');
  const at = new Date('2026-01-01T00:00:00Z');
  let state = { subnets: [], addresses: recordAddress([], 'lighthouse', parseIp('10.42.0.1'), at) };
  const a = chooseAddress(network, state, 'a');
  assert.equal(formatCidr(a), '10.42.0.2/29');
  state = { ...state, addresses: recordAddress(state.addresses, 'a', a.ip, at) };
  assert.equal(formatCidr(chooseAddress(network, state, 'a')), '10.42.0.2/29', 'a known name keeps its address');
  assert.equal(formatCidr(chooseAddress(network, state, 'b', [parseIp('10.42.0.3')])), '10.42.0.4/29');
  for (const [name, ip] of [['c', '10.42.0.3'], ['d', '10.42.0.4'], ['e', '10.42.0.5'], ['f', '10.42.0.6']] as const) {
    state = { ...state, addresses: recordAddress(state.addresses, name, parseIp(ip), at) };
  }
  assert.throws(() => chooseAddress(network, state, 'g'), /every address in 10\.42\.0\.0\/29 is handed out/);
  assert.equal(addressHolder(state.addresses, parseIp('10.42.0.2'), 'x')?.name, 'a');
  assert.equal(addressHolder(state.addresses, parseIp('10.42.0.2'), 'a'), undefined);
});

test('mesh ca sign records the overlay IP in the ledger and warns when another name holds it', withCA((dir) => {
  const first = mesh(dir, 'ca', 'sign', '--name', 'one', '--ip', '10.42.0.7/16');
  assert.equal(first.code, 0, first.stderr);
  const second = mesh(dir, 'ca', 'sign', '--name', 'two', '--ip', '10.42.0.7/16');
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /10\.42\.0\.7 is also recorded for "one"/);
  const state = readLedgerState(ledgerPathFor(join(dir, 'ca.key')));
  assert.deepEqual(state.addresses.map((e) => [e.name, e.ip]), [['one', '10.42.0.7'], ['two', '10.42.0.7']]);
}));
