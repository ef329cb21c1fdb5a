/**
 * The container image (root only, real dockerd; skips with the reason otherwise): the repository's
 * Dockerfile built on a Node base assembled from this machine's node (no registry is reachable, so
 * nothing is pulled), then `docker run --network host --cap-add NET_ADMIN --device /dev/net/tun` of
 * a node that forms a tunnel with a mesh node outside the container, and stops cleanly.
 *
 * Hosts (DockerLab namespaces on one underlay): lh, a mesh lighthouse; hd, a dockerd whose
 * container runs hd's node in hd's network namespace; hb, a plain mesh node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringifyYaml } from '../../src/yaml.js';
import { DockerLab, dockerSkipReason } from '../../src/lab/docker.js';
import { withLab } from '../../src/lab/lab.js';
import { pollUntil } from '../../src/lab/wait.js';
import { skipTest } from '../helpers/skip.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BASE = 'local/node-base';
const IMAGE = 'local/mesh';

test('Dockerfile: builds on a local Node base; its node tunnels to a node outside the container', { timeout: 600_000 }, async (t) => {
  const reason = await dockerSkipReason();
  if (reason) {
    skipTest(t, reason);
    return;
  }
  await withLab(DockerLab.create({ namePrefix: 'mci' }), async (lab) => {
    await lab.addHost('lh', { kind: 'lighthouse' });
    const hd = await lab.addHost('hd', { kind: 'docker', dockerBridge: false });
    await lab.addHost('hb', { kind: 'docker', dockerBridge: false });
    await lab.start('lh');
    await lab.start('hb');
    await lab.startDockerd('hd');
    await lab.importNodeBase('hd', BASE);
    const build = await lab.docker('hd', ['build', '--build-arg', `BASE_IMAGE=${BASE}`, '-t', IMAGE, REPO], 480_000);
    assert.equal(build.code, 0, `docker build failed:\n${build.stdout.slice(-4000)}\n${build.stderr.slice(-4000)}`);

    const version = (JSON.parse(readFileSync(`${REPO}package.json`, 'utf8')) as { version: string }).version;
    assert.equal(await lab.dockerOk('hd', ['run', '--rm', '--pull', 'never', IMAGE, '--version']), version);
    // The image built the start-up snapshot for its node, and its launcher starts from it.
    const traced = await lab.docker('hd', ['run', '--rm', '--pull', 'never', '--entrypoint', 'sh', IMAGE, '-x', '/opt/mesh/bin/mesh', '--help'], 60_000);
    assert.equal(traced.code, 0, traced.stderr);
    assert.match(traced.stderr, /exec node .*--snapshot-blob \/opt\/mesh\/(bin\/\.\.\/)?dist\/bundle\/mesh\.blob /);
    // Found through the image's bin link and its node checked with busybox's builtins: no readlink or stat.
    assert.doesNotMatch(traced.stderr, /^\++ (readlink|stat) /m);
    const tool = await lab.docker('hd', ['run', '--rm', '--pull', 'never', '--entrypoint', 'sh', IMAGE, '-x', '/opt/mesh/bin/mesh', 'ca', '--help'], 60_000);
    assert.equal(tool.code, 0, tool.stderr);
    assert.match(tool.stderr, /exec node .*--snapshot-blob \/opt\/mesh\/(bin\/\.\.\/)?dist\/bundle\/mesh-tools\.blob /);

    // The config and certificates are mounted where the config names them (the README mounts /etc/mesh).
    writeFileSync(hd.configPath, stringifyYaml(lab.configFor(hd)));
    await lab.dockerOk('hd', [
      'run', '-d', '--pull', 'never', '--name', 'mesh-node',
      '--network', 'host', '--cap-add', 'NET_ADMIN', '--device', '/dev/net/tun',
      '-v', `${lab.dir}:${lab.dir}:ro`,
      IMAGE, 'node', '--config', hd.configPath,
    ]);
    let log = '';
    const logs = async () => {
      const r = await lab.docker('hd', ['logs', 'mesh-node']);
      return (log = r.stdout + r.stderr);
    };
    await pollUntil(async () => /mesh node started/.test(await logs()), 30_000, () => `the container's node did not start:\n${log}`, 200);

    assert.equal(await lab.deviceExists('hd', hd.tunDev), true, `TUN ${hd.tunDev} of the container's node is not in hd's namespace`);
    await lab.waitForPing('hb', 'hd', 30_000);
    await lab.waitForPing('hd', 'hb', 30_000);
    assert.match(await logs(), /tunnel up/);

    // docker stop sends SIGTERM to the node (PID 1): it shuts down cleanly and removes its TUN device.
    await lab.dockerOk('hd', ['stop', '--time', '20', 'mesh-node'], 30_000);
    assert.equal(await lab.dockerOk('hd', ['inspect', '--format', '{{.State.ExitCode}}', 'mesh-node']), '0', await logs());
    assert.equal(await lab.deviceExists('hd', hd.tunDev), false);
  });
});
