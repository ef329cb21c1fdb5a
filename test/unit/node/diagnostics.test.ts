import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino, type Logger } from 'pino';
import { Diagnostics, LOG_LINES_BURST, LOG_LINES_PER_SECOND } from '../../../src/node/diagnostics.js';

function capture(level: 'info' | 'debug'): { lines: { msg: string; suppressed?: number }[]; log: Logger } {
  const lines: { msg: string; suppressed?: number }[] = [];
  const log = pino(
    { level },
    new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  return { lines, log };
}

const SUMMARY = 'log rate limit: lines caused by remote packets were suppressed';

test('log limiter: a flood of events with distinct keys writes a bounded number of lines and accounts for the rest', () => {
  let now = 0;
  const { lines, log } = capture('info');
  const diag = new Diagnostics(log, () => now);
  const SECONDS = 10;
  const PER_SECOND = 10_000;
  for (let i = 0; i < SECONDS * PER_SECOND; i++) {
    now = (i * 1000) / PER_SECOND;
    diag.limited('info', `forged ${i}`, { i }, 'invalid certificate from host');
  }
  const logged = lines.filter((l) => l.msg !== SUMMARY);
  const summaries = lines.filter((l) => l.msg === SUMMARY);
  assert.ok(logged.length <= LOG_LINES_BURST + SECONDS * LOG_LINES_PER_SECOND, `${logged.length} lines for ${SECONDS * PER_SECOND} events`);
  assert.ok(logged.length >= LOG_LINES_BURST, 'the burst is let through');
  assert.ok(summaries.length <= logged.length, 'at most one summary per line let through');
  const reported = summaries.reduce((sum, l) => sum + l.suppressed!, 0);
  assert.equal(logged.length + reported + diag.suppressedLines, SECONDS * PER_SECOND, 'every event is logged or counted as suppressed');
});

test('log limiter: one key logs at most once per second; a quiet period refills the budget', () => {
  let now = 0;
  const { lines, log } = capture('info');
  const diag = new Diagnostics(log, () => now);
  for (let i = 0; i < 1000; i++) diag.limited('info', 'myself', {}, 'refusing to handshake with myself');
  assert.equal(lines.length, 1);
  now = 999;
  diag.limited('info', 'myself', {}, 'refusing to handshake with myself');
  assert.equal(lines.length, 1, 'not again within the second');
  now = 1000;
  diag.limited('info', 'myself', {}, 'refusing to handshake with myself');
  assert.equal(lines.length, 2);
  // Exhaust the overall budget, wait, and the next line carries the count of what was held back.
  for (let i = 0; i < 10 * LOG_LINES_BURST; i++) diag.limited('info', `k${i}`, {}, 'x');
  const held = diag.suppressedLines;
  assert.ok(held > 0);
  now += (LOG_LINES_BURST * 1000) / LOG_LINES_PER_SECOND;
  diag.limited('info', 'later', {}, 'later');
  assert.deepEqual(lines.slice(-2).map((l) => l.msg), [SUMMARY, 'later']);
  assert.equal(lines.at(-2)!.suppressed, held);
  assert.equal(diag.suppressedLines, 0);
});

test('log limiter: dropped datagrams from a flood of source addresses, logged at debug, stay bounded', () => {
  let now = 0;
  const { lines, log } = capture('debug');
  const diag = new Diagnostics(log, () => now);
  for (let i = 0; i < 50_000; i++) {
    now = i / 10; // 10,000 datagrams per second for 5 s
    diag.drop(i % 2 ? 'unknown-index' : 'short', { address: `198.18.${(i >> 8) & 255}.${i & 255}`, port: 1024 + (i % 60_000) });
  }
  assert.equal(diag.stats.dropped['unknown-index']! + diag.stats.dropped['short']!, 50_000, 'every drop is counted');
  const logged = lines.filter((l) => l.msg !== SUMMARY).length;
  assert.ok(logged <= LOG_LINES_BURST + 5 * LOG_LINES_PER_SECOND, `${logged} lines`);
  assert.ok(diag.limiterKeys <= 4097, 'the per-key table stays bounded');
});
