import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { stringifyYaml } from '../../../src/yaml.js';
import { asLighthouse } from '../../../src/cli/lighthouse.js';
import { loadConfig } from '../../../src/node/config.js';
import { nebulaConfig } from '../../../src/lab/configs.js';
import { MESH_BIN } from '../../../src/lab/binaries.js';
import { within } from '../../../src/lab/wait.js';
import { fixturePath } from '../pki/fixtures.js';

/** The bundled CLI that package.json's bin names: what users run. */
const BIN = MESH_BIN;

function mesh(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function writeConfig(t: { after(fn: () => void): void }, port: number | undefined, lighthouse: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-lh-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = nebulaConfig({ ca: fixturePath('ca.crt'), cert: fixturePath('host1.crt'), key: fixturePath('host1.key'), tun: { disabled: true } });
  Object.assign(config.lighthouse as Record<string, unknown>, lighthouse);
  const listen: Record<string, unknown> = { host: '127.0.0.1' };
  if (port !== undefined) listen.port = port;
  config.listen = listen;
  const file = join(dir, 'lighthouse.yml');
  writeFileSync(file, stringifyYaml(config));
  return file;
}

test('mesh lighthouse --help describes the command', () => {
  const r = mesh('lighthouse', '--help');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: mesh lighthouse /);
  assert.match(r.stdout, /--config/);
  assert.match(mesh('--help').stdout, /lighthouse/);
});

test('mesh lighthouse refuses a config without listen.port, naming the key', (t) => {
  for (const port of [undefined, 0]) {
    const r = mesh('lighthouse', '--config', writeConfig(t, port));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /listen\.port/);
  }
});

test('the lighthouse command forces am_lighthouse on a config written for a node', (t) => {
  const loaded = loadConfig(writeConfig(t, 4242));
  assert.equal(loaded.config.lighthouse.amLighthouse, false);
  asLighthouse(loaded);
  assert.equal(loaded.config.lighthouse.amLighthouse, true);
});

test('mesh lighthouse does not warn that serve_dns and web need am_lighthouse', (t) => {
  const loaded = loadConfig(writeConfig(t, 4242, { serve_dns: true, web: { enabled: true } }));
  assert.ok(loaded.warnings.some((w) => w.startsWith('lighthouse.serve_dns:')), 'a plain node would be warned');
  assert.ok(loaded.warnings.some((w) => w.startsWith('lighthouse.web.enabled:')), 'a plain node would be warned');
  asLighthouse(loaded);
  assert.deepEqual(loaded.warnings.filter((w) => w.startsWith('lighthouse.serve_dns:') || w.startsWith('lighthouse.web.enabled:')), []);
  assert.equal(loaded.config.lighthouse.serveDns, true);
  assert.deepEqual(loaded.config.lighthouse.web, { enabled: true, listen: '', port: 8080 });
});

/** Runs `mesh lighthouse` until `ready` appears in its output (or it exits, or 15 s pass); `stop` sends SIGTERM and gives the exit code. */
async function runLighthouse(t: TestContext, args: string[], ready: string): Promise<{ output: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, '--log-format', 'json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const deadline = Date.now() + 15_000;
  while (!output.includes(ready) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const stop = () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    return within(exited, 10_000, 'mesh lighthouse exiting on SIGTERM');
  };
  return { output: () => output, stop };
}

test('mesh lighthouse with lighthouse.web serves the map and its JSON', async (t) => {
  const port = 20000 + Math.floor(Math.random() * 30000);
  const webPort = port + 1;
  const config = writeConfig(t, port, { web: { enabled: true, listen: '127.0.0.1', port: webPort } });
  const lighthouse = await runLighthouse(t, ['lighthouse', '--config', config], 'serving the map');
  assert.match(lighthouse.output(), new RegExp(`"url":"http://127\\.0\\.0\\.1:${webPort}/"`), lighthouse.output());
  const get = (path: string) => within(fetch(`http://127.0.0.1:${webPort}${path}`), 5000, `GET ${path} from the lighthouse`);
  const view = (await (await get('/api/mesh')).json()) as { hosts: { name: string; lighthouse: boolean }[]; edges: unknown[] };
  assert.equal(view.hosts.length, 1);
  assert.equal(view.hosts[0]!.lighthouse, true);
  assert.deepEqual(view.edges, []);
  assert.equal((await get('/')).status, 200);
  assert.equal(await lighthouse.stop(), 0, lighthouse.output());
});

test('mesh lighthouse runs as a lighthouse on a fixed port and stops on SIGTERM', async (t) => {
  const port = 20000 + Math.floor(Math.random() * 30000);
  const lighthouse = await runLighthouse(t, ['--log-level', 'info', 'lighthouse', '--config', writeConfig(t, port)], 'mesh node started');
  const output = lighthouse.output();
  assert.match(output, /mesh node started/, output);
  assert.match(output, new RegExp(`127\\.0\\.0\\.1:${port}`));
  // At once: runNode takes signals from before the node starts, so this is a clean stop.
  assert.equal(await lighthouse.stop(), 0, lighthouse.output());
});
