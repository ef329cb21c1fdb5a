import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GlobalBudget, RECV_ERRORS_BURST, RECV_ERRORS_PER_SECOND, SourceLimiter, STAGE1_BURST, STAGE1_PER_SECOND } from '../../../src/node/source-limiter.js';

test('source limiter (stage-1 policy): a burst per source address, then its rate; other addresses are not affected', () => {
  const limiter = new SourceLimiter(STAGE1_PER_SECOND, STAGE1_BURST);
  let admitted = 0;
  for (let i = 0; i < 1000; i++) if (limiter.allow('192.0.2.1', 0)) admitted++;
  assert.equal(admitted, STAGE1_BURST, 'a flood at one instant gets the burst');
  assert.equal(limiter.allow('192.0.2.2', 0), true, 'another address has its own bucket');
  // One second later: the rate's worth of tokens, not more.
  admitted = 0;
  for (let i = 0; i < 1000; i++) if (limiter.allow('192.0.2.1', 1000)) admitted++;
  assert.equal(admitted, STAGE1_PER_SECOND);
  // A host retrying at Nebula's pace (a message 1 every 100 ms or slower) is never refused.
  const steady = new SourceLimiter(STAGE1_PER_SECOND, STAGE1_BURST);
  for (let t = 0; t < 60_000; t += 100) assert.equal(steady.allow('198.51.100.7', t), true, `at ${t} ms`);
});

test('source limiter (stage-1 policy): the table of sources is bounded under a flood of new addresses', () => {
  const limiter = new SourceLimiter(STAGE1_PER_SECOND, STAGE1_BURST);
  for (let i = 0; i < 200_000; i++) limiter.allow(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i);
  assert.ok(limiter.sources <= 65_536, `${limiter.sources} sources held`);
});

test('recv_error policy: a flood of unknown indexes from one address earns a bounded number of replies, enough for a lost tunnel', () => {
  const limiter = new SourceLimiter(RECV_ERRORS_PER_SECOND, RECV_ERRORS_BURST);
  let sent = 0;
  for (let t = 0; t < 10_000; t++) if (limiter.allow('192.0.2.1', t)) sent++; // 1,000 datagrams/s for 10 s
  assert.equal(sent, RECV_ERRORS_BURST + 10 * RECV_ERRORS_PER_SECOND - 1);
  // Nebula tears a tunnel down on the 4th recv_error: a peer that lost ours gets that many at once.
  assert.ok(RECV_ERRORS_BURST >= 4);
});

test('global budget: starts with the burst, refills at the rate up to the burst, and takes new settings at once', () => {
  const budget = new GlobalBudget();
  const take = (now: number, n: number, perSecond = 100, burst = 300): number => {
    let admitted = 0;
    for (let i = 0; i < n; i++) if (budget.allow(now, perSecond, burst)) admitted++;
    return admitted;
  };
  assert.equal(take(5_000, 1000), 300, 'a burst at one instant');
  assert.equal(take(5_500, 1000), 50, 'half a second: half the rate');
  assert.equal(take(600_000, 1000), 300, 'a long quiet time saves up no more than the burst');
  assert.equal(take(601_000, 1000, 10, 300), 10, 'a lower rate applies at once');
  assert.equal(take(611_000, 1000, 10, 5), 5, 'so does a lower burst');
  // Legitimate steady load under the rate is never refused.
  for (let t = 700_000; t < 760_000; t += 20) assert.equal(budget.allow(t, 100, 300), true, `at ${t} ms`);
  // A clock that goes back earns nothing.
  take(800_000, 1000);
  assert.equal(take(0, 1000), 0);
  assert.equal(take(800_010, 1000), 1, 'only the time after the latest reading counts');
});
