import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MESH_BIN } from '../../../src/lab/binaries.js';

/** The bundled CLI that package.json's bin names: what users run. */
const BIN = MESH_BIN;

function mesh(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `mesh ca serve --config serve.yml` on loopback and resolves once it says it runs. */
function serve(cwd: string, port: number): Promise<ChildProcess> {
  writeFileSync(join(cwd, 'serve.yml'), `listen: 127.0.0.1:${port}\ntemplate: template.yml\nduration: 48h\n`);
  const proc = spawn(process.execPath, [BIN, 'ca', 'serve', '--config', 'serve.yml'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mesh ca serve did not start: ${out}`)), 30_000);
    const seen = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('enrollment service running')) {
        clearTimeout(timer);
        resolve(proc);
      }
    };
    proc.stdout!.on('data', seen);
    proc.stderr!.on('data', seen);
    proc.once('exit', (code) => reject(new Error(`mesh ca serve exited (${code}): ${out}`)));
  });
}

test('mesh ca token create|list|revoke and mesh join refusals against a loopback service', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-enroll-cli-'));
  let service: ChildProcess | undefined;
  try {
    assert.equal(mesh(dir, 'ca', 'init', '--name', 'acme', '--ips', '10.44.0.0/24').code, 0);
    const early = mesh(dir, 'ca', 'token', 'create');
    assert.equal(early.code, 1);
    assert.match(early.stderr, /start `mesh ca serve --ca-key ca.key \.\.\.` once first/);
    assert.match(mesh(dir, 'ca', 'serve', '--listen', '0.0.0.0:4243', '--template', 'none.yml').stderr, /--advertise/);
    writeFileSync(join(dir, 'template.yml'), 'lighthouse:\n  hosts: []\n');
    writeFileSync(join(dir, 'bad.yml'), 'listen: 127.0.0.1:1\nport: 5\n');
    const badConfig = mesh(dir, 'ca', 'serve', '--config', 'bad.yml', '--template', 'template.yml');
    assert.equal(badConfig.code, 1);
    assert.match(badConfig.stderr, /unknown key "port"/);
    assert.equal(mesh(dir, 'ca', 'serve', '--listen', '127.0.0.1:1').code, 2, 'no template is a usage error');
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    service = await serve(dir, port);

    const token = mesh(dir, 'ca', 'token', 'create', '--uses', '3', '--ttl', '1h', '--name-prefix', 'n').stdout.trim();
    assert.match(token, /^meshjoin1\./);
    const id = /^([0-9a-f]{16}) +valid +0\/3/m.exec(mesh(dir, 'ca', 'token', 'list').stdout)?.[1];
    assert.ok(id, 'token list shows the new token as valid, 0 of 3 used');
    assert.doesNotMatch(readFileSync(join(dir, 'ca.tokens.json'), 'utf8'), new RegExp(JSON.parse(Buffer.from(token.slice(10), 'base64url').toString()).k as string));

    const wrongName = mesh(dir, 'join', token, '--name', 'other', '--dir', 'h0');
    assert.equal(wrongName.code, 1);
    assert.match(wrongName.stderr, /names starting with "n"/);
    const ok = mesh(dir, 'join', token, '--name', 'n1', '--dir', 'h1');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /joined as "n1": 10\.44\.0\.1\/24/);
    const again = mesh(dir, 'join', token, '--name', 'n1', '--dir', 'h1');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /refusing to overwrite .*--force/);
    assert.match(mesh(dir, 'ca', 'token', 'list').stdout, /valid +1\/3/, 'a join stopped by existing files does not spend a use');

    assert.equal(mesh(dir, 'ca', 'token', 'revoke', id).code, 0);
    const revoked = mesh(dir, 'join', token, '--name', 'n2', '--dir', 'h2');
    assert.equal(revoked.code, 1);
    assert.match(revoked.stderr, /was revoked/);
    assert.equal(existsSync(join(dir, 'h2')), false);
    assert.match(mesh(dir, 'join', 'garbage', '--dir', 'h3').stderr, /not a mesh join token/);
    assert.match(mesh(dir, 'ca', 'token', 'revoke', 'ffffffffffffffff').stderr, /no token ffffffffffffffff/);
  } finally {
    service?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
