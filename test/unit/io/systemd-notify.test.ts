/**
 * serviceNotifier without a service manager: no NOTIFY_SOCKET sends nothing, and a socket that is
 * not there is a warning, never an error that would stop the node (the working path, with a
 * receiving socket, is in test/integration/systemd.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { serviceNotifier } from '../../../src/io/systemd-notify.js';

test('without NOTIFY_SOCKET the notifier is inactive and sends nothing', async () => {
  const warnings: string[] = [];
  const notifier = serviceNotifier((m) => warnings.push(m), { PATH: process.env.PATH });
  assert.equal(notifier.active, false);
  await notifier.ready();
  await notifier.reloading();
  await notifier.stopping();
  assert.deepEqual(warnings, []);
});

test('a NOTIFY_SOCKET that is not there: each message is a warning naming it, and the calls resolve', async () => {
  const warnings: string[] = [];
  const notifier = serviceNotifier((m) => warnings.push(m), { PATH: process.env.PATH, NOTIFY_SOCKET: join(tmpdir(), `mesh-no-such-socket-${process.pid}`) });
  assert.equal(notifier.active, true);
  await notifier.ready();
  await notifier.stopping();
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /^systemd-notify READY=1 failed: /);
  assert.match(warnings[1]!, /^systemd-notify STOPPING=1 failed: /);
});
