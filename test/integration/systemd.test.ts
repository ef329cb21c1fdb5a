/**
 * The systemd units (examples/systemd/) and the node's `Type=notify` readiness. There is no systemd
 * running here: the units go through `systemd-analyze verify`, and the service manager's side of
 * sd_notify(3) is a unix datagram socket the test binds (python3, as Node cannot bind one) and
 * names in NOTIFY_SOCKET, as systemd does. The node runs with a real TUN in a namespace (root only).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MESH_BIN } from '../../src/lab/binaries.js';
import { labSkipReason } from '../../src/lab/lab.js';
import { run } from '../../src/lab/netns.js';
import { withOverlayLab } from '../../src/lab/overlay.js';
import { pollUntil, within } from '../../src/lab/wait.js';
import { skipTest } from '../helpers/skip.js';

const UNITS = fileURLToPath(new URL('../../../examples/systemd/', import.meta.url));
const UNIT_FILES = ['mesh-node@.service', 'mesh-lighthouse.service'];

/** The service manager's end: every datagram on `path`, in order of arrival. */
class FakeNotifySocket {
  readonly messages: string[] = [];
  private constructor(private readonly proc: ChildProcess) {}

  static async bind(path: string): Promise<FakeNotifySocket> {
    const receiver = [
      'import json, socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(sys.argv[1])',
      'print("bound", flush=True)',
      // recv() drops the descriptor systemd-notify attaches to BARRIER=1, which releases its wait.
      'while True: print(json.dumps(s.recv(4096).decode()), flush=True)',
    ].join('\n');
    const proc = spawn('python3', ['-c', receiver, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const socket = new FakeNotifySocket(proc);
    const lines = createInterface({ input: proc.stdout! });
    const bound = new Promise<void>((resolve, reject) => {
      proc.once('exit', (code) => reject(new Error(`notify receiver exited (${code})`)));
      lines.once('line', () => {
        lines.on('line', (line) => socket.messages.push(JSON.parse(line) as string));
        resolve();
      });
    });
    try {
      await within(bound, 10_000, 'the notify receiver binding its socket');
    } catch (err) {
      socket.close();
      throw err;
    }
    return socket;
  }

  /** Waits for a datagram at index `from` or later that `predicate` accepts; returns its index. */
  waitFor(predicate: (message: string) => boolean, from: number, what: string, timeoutMs = 15_000): Promise<number> {
    return pollUntil(
      () => {
        const i = this.messages.findIndex((m, j) => j >= from && predicate(m));
        return i >= 0 ? i : undefined;
      },
      timeoutMs,
      () => `no ${what} on the notify socket within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`,
      20,
    );
  }

  close(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGTERM');
  }
}

const fields = (message: string): string[] => message.split('\n').filter(Boolean);
const sets = (name: string) => (message: string) => fields(message).includes(name);

test('systemd-analyze verify accepts the units', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-units-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // verify wants ExecStart's command installed; no `mesh` is on the system's path in CI, so the
  // copies name a launcher of this build's CLI by its absolute path instead. Nothing else changes.
  const mesh = join(dir, 'mesh');
  writeFileSync(mesh, `#!/bin/sh\nexec ${process.execPath} ${MESH_BIN} "$@"\n`, { mode: 0o755 });
  for (const unit of UNIT_FILES) {
    const text = readFileSync(join(UNITS, unit), 'utf8');
    assert.match(text, /^ExecStart=mesh /m, unit);
    for (const directive of ['Type=notify', 'NotifyAccess=all', 'ExecReload=kill -HUP $MAINPID', 'Restart=on-failure', 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE', 'NoNewPrivileges=yes', 'DeviceAllow=/dev/net/tun rw']) {
      assert.ok(text.split('\n').includes(directive), `${unit} lacks ${directive}`);
    }
    writeFileSync(join(dir, unit), text.replace(/^ExecStart=mesh /m, `ExecStart=${mesh} `));
  }
  const r = await run('systemd-analyze', ['verify', '--man=no', ...UNIT_FILES.map((u) => join(dir, u.replace('@.', '@office.')))], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `systemd-analyze verify failed:\n${r.stdout}${r.stderr}`);
  assert.equal(r.stderr.trim(), '', 'systemd-analyze verify warned');
});

test('Type=notify: READY=1 once the TUN is up and the UDP socket bound, RELOADING=1/READY=1 around SIGHUP, STOPPING=1 on SIGTERM', { timeout: 120_000 }, async (t) => {
  const reason = await labSkipReason({ commands: ['python3', 'systemd-notify', 'ss'] });
  if (reason) return skipTest(t, reason);
  const dir = mkdtempSync(join(tmpdir(), 'mesh-notify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const notify = await FakeNotifySocket.bind(join(dir, 'notify.sock'));
  t.after(() => notify.close());

  await withOverlayLab(t, { net: 36, namePrefix: 'msd' }, async (lab) => {
    const a = await lab.addHost('a');
    await lab.addHost('b');
    await lab.start('b');
    await lab.start('a', 15_000, { ...process.env, NOTIFY_SOCKET: join(dir, 'notify.sock') });

    const ready = await notify.waitFor(sets('READY=1'), 0, 'READY=1');
    // Checked as soon as READY=1 arrived: the TUN carries the node's address and the port is bound.
    const link = await lab.lab.exec(a.ns, 'ip', ['-4', 'addr', 'show', 'dev', a.tunDev]);
    assert.match(link.stdout, new RegExp(`inet ${a.vpnIp.replace(/\./g, '\\.')}/24`));
    assert.match(link.stdout, /[<,]UP[,>]/);
    const udp = await lab.lab.exec(a.ns, 'ss', ['-Hunl', 'sport', '=', ':4242']);
    assert.match(udp.stdout, /:4242\b/, 'UDP port 4242 not bound at READY=1');
    assert.deepEqual(notify.messages.slice(0, ready).filter((m) => !sets('BARRIER=1')(m)), [], 'nothing before READY=1');
    await lab.waitForPing('a', 'b');

    const beforeReload = notify.messages.length;
    a.proc!.kill('SIGHUP');
    const reloading = await notify.waitFor(sets('RELOADING=1'), beforeReload, 'RELOADING=1');
    assert.match(notify.messages[reloading]!, /^MONOTONIC_USEC=\d+$/m);
    await notify.waitFor(sets('READY=1'), reloading + 1, 'READY=1 after the reload');
    assert.match(lab.log('a'), /configuration reloaded/);
    await lab.waitForPing('a', 'b');

    const beforeStop = notify.messages.length;
    assert.deepEqual(await lab.stop('a'), { code: 0, signal: null });
    await notify.waitFor(sets('STOPPING=1'), beforeStop, 'STOPPING=1');
  });
});
