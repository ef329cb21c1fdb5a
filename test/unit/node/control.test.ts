/**
 * The control socket on its own (src/node/control.ts) with the CLI's client: JSON-line requests
 * and answers, mode 0600, a socket in use refused, a stale one from a killed process replaced, the
 * file removed on stop.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { controlRequest } from '../../../src/cli/control-client.js';
import { UserError } from '../../../src/errors.js';
import { ControlServer, controlDir, controlSocketPath } from '../../../src/node/control.js';
import { MESH_BIN } from '../../../src/lab/binaries.js';
import { pollUntil, within } from '../../../src/lab/wait.js';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'mesh-control-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Sends raw lines and collects the answer lines. */
async function rawExchange(path: string, text: string, answers: number): Promise<unknown[]> {
  const socket = connect(path);
  await within(once(socket, 'connect'), 5000, `connecting to ${path}`);
  socket.write(text);
  let buffered = '';
  socket.on('data', (d: Buffer) => (buffered += d.toString()));
  await pollUntil(() => buffered.split('\n').length > answers, 5000, () => `got ${JSON.stringify(buffered)}`);
  socket.destroy();
  return buffered.trim().split('\n').map((l) => JSON.parse(l) as unknown);
}

describe('control socket', () => {
  it('answers requests in order, with results, user errors and protocol errors', async () => {
    const path = join(dir, 'a.sock');
    let slow = 0;
    const server = await ControlServer.start(
      path,
      {
        echo: (r) => ({ got: r.value }),
        slow: async () => {
          await new Promise((r) => setTimeout(r, 50));
          return ++slow;
        },
        refuse: () => {
          throw new UserError('not today');
        },
      },
      log,
    );
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(await controlRequest(path, { command: 'echo', value: 7 }, 5000), { got: 7 });
      await assert.rejects(controlRequest(path, { command: 'refuse' }, 5000), (err: Error) => err instanceof UserError && err.message === 'not today');
      await assert.rejects(controlRequest(path, { command: 'nope' }, 5000), /unknown command "nope" \(known: echo, slow, refuse\)/);
      // Two requests on one connection: the slow one's answer still comes first.
      const answers = await rawExchange(path, '{"command":"slow"}\n{"command":"echo","value":1}\nnot json\n{}\n', 4);
      assert.deepEqual(answers, [
        { ok: true, result: 1 },
        { ok: true, result: { got: 1 } },
        { ok: false, error: 'request is not JSON' },
        { ok: false, error: 'request has no "command"' },
      ]);
    } finally {
      await server.stop();
    }
    assert.equal(existsSync(path), false, 'socket file removed on stop');
    await assert.rejects(controlRequest(path, { command: 'echo' }, 5000), /no node is running there/);
  });

  it('refuses a socket another node answers on, and replaces a stale one', async () => {
    const path = join(dir, 'b.sock');
    const first = await ControlServer.start(path, {}, log);
    await assert.rejects(ControlServer.start(path, {}, log), /in use by another running node/);
    await first.stop();

    // A process killed with SIGKILL leaves its socket file behind.
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await within(once(child.stdout!, 'data'), 10_000, 'the child listening on the socket');
    child.kill('SIGKILL');
    await within(once(child, 'exit'), 5000, 'the child exiting on SIGKILL');
    assert.equal(statSync(path).isSocket(), true);
    const second = await ControlServer.start(path, { echo: () => 'fresh' }, log);
    assert.equal(await controlRequest(path, { command: 'echo' }, 5000), 'fresh');
    await second.stop();

    const file = join(dir, 'plain');
    writeFileSync(file, '');
    await assert.rejects(ControlServer.start(file, {}, log), /exists and is not a socket/);
  });

  it('mesh status, ping and reload have --help, and say clearly when no node answers', () => {
    const bin = MESH_BIN;
    for (const command of ['status', 'ping', 'reload']) {
      const help = spawnSync(process.execPath, [bin, command, '--help'], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(help.status, 0, command);
      assert.match(help.stdout, new RegExp(`Usage: mesh ${command} .*\n[\\s\\S]*--socket`), command);
    }
    const missing = join(dir, 'none.sock');
    for (const args of [['status'], ['ping', '10.0.0.1'], ['reload']]) {
      const r = spawnSync(process.execPath, [bin, ...args, '--socket', missing], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 1, args.join(' '));
      assert.equal(r.stderr, `Error: cannot reach the node's control socket ${missing}: no node is running there\n`);
    }
    const usage = spawnSync(process.execPath, [bin, 'ping', 'x', '-c', '0', '--socket', missing], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(usage.status, 2);
  });

  it('names the default socket after the TUN device, else after the config file', () => {
    const config = { control: { socket: '' }, tun: { disabled: false, dev: 'mesh7' } } as Parameters<typeof controlSocketPath>[0];
    const host = controlDir(null);
    assert.equal(host, '/run/mesh');
    assert.equal(controlSocketPath(config, '/etc/mesh/a.yml', 'mesh7', host), '/run/mesh/mesh7.sock');
    assert.match(controlSocketPath(config, '/etc/mesh/lh.yml', null, host), /^\/run\/mesh\/lh-[0-9a-f]{8}\.sock$/);
    assert.notEqual(controlSocketPath(config, '/etc/a/lh.yml', null, host), controlSocketPath(config, '/etc/b/lh.yml', null, host));
    assert.equal(controlSocketPath({ ...config, control: { socket: '/tmp/x.sock' } }, '/etc/mesh/a.yml', 'mesh7', host), '/tmp/x.sock');
    // Two nodes with the same TUN name in two network namespaces get two sockets.
    const inNs1 = controlSocketPath(config, '/etc/mesh/a.yml', 'mesh7', controlDir('blue'));
    const inNs2 = controlSocketPath(config, '/etc/mesh/a.yml', 'mesh7', controlDir('green'));
    assert.equal(inNs1, '/run/mesh/netns-blue/mesh7.sock');
    assert.notEqual(inNs1, inNs2);
  });
});
