import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { parseYaml } from '../../../src/yaml.js';
import { parseIp } from '../../../src/net/ipv4.js';
import { loadConfig } from '../../../src/node/config.js';
import { skipOption } from '../../helpers/skip.js';

// dist/test/unit/config/ -> repository root
const EXAMPLES = fileURLToPath(new URL('../../../../examples/', import.meta.url));
const NEBULA = '/usr/bin/nebula';
const NEBULA_CERT = '/usr/bin/nebula-cert';

const tmp = mkdtempSync(join(tmpdir(), 'mesh-examples-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('examples', () => {
  it('examples/config.yml loads without errors or warnings', () => {
    const loaded = loadConfig(join(EXAMPLES, 'config.yml'));
    assert.deepEqual(loaded.warnings, []);
    const c = loaded.config;
    assert.equal(c.lighthouse.amLighthouse, false);
    assert.deepEqual(c.lighthouse.hosts, [parseIp('192.168.100.1')]);
    assert.ok(c.staticHostMap.has(parseIp('192.168.100.1')));
    assert.equal(c.firewall.inbound.length, 2);
    assert.equal(c.firewall.outbound.length, 1);
    assert.equal(c.tun.mtu, 1300);
  });

  it('examples/lighthouse.yml loads without errors or warnings and is a valid lighthouse', () => {
    const loaded = loadConfig(join(EXAMPLES, 'lighthouse.yml'));
    assert.deepEqual(loaded.warnings, []);
    assert.equal(loaded.config.lighthouse.amLighthouse, true);
    assert.equal(loaded.config.tun.disabled, true);
    assert.notEqual(loaded.config.listen.port, 0, 'a lighthouse needs a fixed listen.port');
  });

  const haveNebula = existsSync(NEBULA) && existsSync(NEBULA_CERT);
  it('real nebula 1.6 accepts both examples (nebula -test)', { skip: skipOption(!haveNebula && 'nebula / nebula-cert not installed') }, () => {
    const run = (args: string[]) => execFileSync(NEBULA_CERT, args, { cwd: tmp, stdio: 'pipe', timeout: 60_000 });
    run(['ca', '-name', 'Example CA', '-out-crt', 'ca.crt', '-out-key', 'ca.key']);
    run(['sign', '-ca-crt', 'ca.crt', '-ca-key', 'ca.key', '-name', 'host', '-ip', '192.168.100.5/24', '-groups', 'laptop,home', '-out-crt', 'host.crt', '-out-key', 'host.key']);
    run(['sign', '-ca-crt', 'ca.crt', '-ca-key', 'ca.key', '-name', 'lighthouse', '-ip', '192.168.100.1/24', '-out-crt', 'lighthouse.crt', '-out-key', 'lighthouse.key']);
    const nebulaTest = (name: string, text: string): { status: number | null; output: string } => {
      const file = join(tmp, name);
      writeFileSync(file, text.replaceAll('/etc/mesh/', `${tmp}/`));
      const r = spawnSync(NEBULA, ['-test', '-config', file], { encoding: 'utf8', timeout: 30_000 });
      return { status: r.status, output: `${r.stdout}${r.stderr}` };
    };
    for (const example of ['config.yml', 'lighthouse.yml']) {
      const text = readFileSync(join(EXAMPLES, example), 'utf8');
      const r = nebulaTest(example, text);
      assert.equal(r.status, 0, `nebula -test rejected ${example}:\n${r.output}`);
      assert.doesNotMatch(r.output, /level=(error|fatal)/, r.output);
      // Our loader also accepts the rewritten file.
      assert.deepEqual(loadConfig(join(tmp, example)).warnings, []);
    }
    // Sanity: the harness does notice a config nebula rejects.
    const broken = readFileSync(join(EXAMPLES, 'config.yml'), 'utf8').replace('port: 443', 'port: 900-100');
    assert.notEqual(nebulaTest('broken.yml', broken).status, 0);
  });

  it('examples/compose/compose.yml: api and client on the external mesh network, the client calling tasks.api.cluster', () => {
    const compose = parseYaml(readFileSync(join(EXAMPLES, 'compose', 'compose.yml'), 'utf8')) as {
      services: Record<string, { networks: string[]; command: string[]; healthcheck?: unknown }>;
      networks: Record<string, { external?: boolean }>;
    };
    assert.deepEqual(compose.networks, { cluster: { external: true } });
    assert.deepEqual(Object.keys(compose.services).sort(), ['api', 'client']);
    for (const service of Object.values(compose.services)) assert.deepEqual(service.networks, ['cluster']);
    assert.ok(compose.services['api']!.healthcheck, 'api has a health check');
    assert.match(compose.services['client']!.command.join(' '), /http:\/\/tasks\.api\.cluster\//);
  });
});
