import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import type { Certificate } from '../../../pki/cert.js';
import { CertificateRenewal, renewalTime } from '../../../src/node/renewal.js';
import { FakeTimers } from '../../helpers/fake-timers.js';

function certValid(fromMs: number, lifetimeMs: number): Certificate {
  return { details: { notBefore: fromMs / 1000, notAfter: (fromMs + lifetimeMs) / 1000 } } as Certificate;
}

function setup(renew: (timers: FakeTimers) => Promise<void>, renewBeforeMs = 0) {
  const timers = new FakeTimers();
  const lines: Array<{ msg: string; timeLeftSeconds?: number }> = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as { msg: string }), done()) }));
  let cert = certValid(timers.now(), 90_000);
  let calls = 0;
  const renewal = new CertificateRenewal({
    timers,
    log,
    certificate: () => cert,
    renew: async () => {
      calls++;
      await renew(timers);
      cert = certValid(timers.now(), 90_000);
    },
    renewBeforeMs,
  });
  return { timers, lines, renewal, calls: () => calls, cert: () => cert };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('renewalTime: a third of the lifetime before expiry, or renew_before', () => {
  const cert = certValid(0, 90_000);
  assert.equal(renewalTime(cert, 0), 60_000);
  assert.equal(renewalTime(cert, 10_000), 80_000);
});

test('renews when a third of the lifetime is left, then plans the next renewal from the new certificate', async () => {
  const s = setup(async () => {});
  s.renewal.start();
  s.timers.advance(59_000);
  assert.equal(s.calls(), 0);
  s.timers.advance(1_000);
  await settle();
  assert.equal(s.calls(), 1);
  assert.ok(s.lines.some((l) => l.msg === 'certificate renewed'));
  s.timers.advance(60_000);
  await settle();
  assert.equal(s.calls(), 2);
  s.renewal.stop();
  assert.equal(s.timers.pending, 0);
});

test('a failed renewal is logged with the time left and retried', async () => {
  let failures = 2;
  const s = setup(async () => {
    if (failures-- > 0) throw new Error('service unreachable');
  });
  s.renewal.start();
  s.timers.advance(60_000);
  await settle();
  const warning = s.lines.find((l) => l.msg === 'certificate renewal failed, will retry');
  assert.ok(warning);
  assert.equal(warning.timeLeftSeconds, 30);
  s.timers.advance(5_000);
  await settle();
  s.timers.advance(5_000);
  await settle();
  assert.equal(s.calls(), 3);
  assert.ok(s.lines.some((l) => l.msg === 'certificate renewed'));
  s.renewal.stop();
});
