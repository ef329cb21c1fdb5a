import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { stringifyYaml } from '../../../src/yaml.js';
import { nebulaConfig } from '../../../src/lab/configs.js';
import { MESH_BIN } from '../../../src/lab/binaries.js';
import { fixturePath } from '../pki/fixtures.js';

/** The bundled CLI that package.json's bin names: what users run. */
const BIN = MESH_BIN;

function nodeTest(t: TestContext, change: (config: Record<string, any>) => void): { code: number; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-node-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = nebulaConfig({ ca: fixturePath('ca.crt'), cert: fixturePath('host1.crt'), key: fixturePath('host1.key'), tun: { disabled: true } }) as Record<string, any>;
  change(config);
  const file = join(dir, 'node.yml');
  writeFileSync(file, stringifyYaml(config));
  const r = spawnSync(process.execPath, [BIN, 'node', '--config', file, '--test'], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('mesh node --test passes a config that starts, resolving static_host_map names', (t) => {
  const r = nodeTest(t, (c) => {
    c.static_host_map = { '10.42.0.99': ['localhost:4242'] };
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /configuration is valid/);
});

test('mesh node --test runs the checks against the certificate that a start runs', (t) => {
  const r = nodeTest(t, (c) => {
    c.static_host_map = { '192.0.2.1': ['127.0.0.1:4242'] };
    c.lighthouse = { am_lighthouse: false, hosts: ['192.0.2.1'] };
  });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /lighthouse\.hosts: 192\.0\.2\.1 is not inside the overlay network/);
});

test('mesh node --test refuses a lighthouse without a fixed port', (t) => {
  const r = nodeTest(t, (c) => {
    c.lighthouse = { am_lighthouse: true };
    c.listen = { host: '127.0.0.1', port: 0 };
  });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /listen\.port: must be set/);
});
