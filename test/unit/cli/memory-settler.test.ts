import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemorySettler } from '../../../src/cli/memory-settler.js';
import { QUIET_INTERVAL_MS } from '../../../src/node/quiet.js';
import { FakeTimers } from '../../helpers/fake-timers.js';

function setup() {
  const timers = new FakeTimers();
  let datagrams = 0;
  let releases = 0;
  const settler = new MemorySettler(() => datagrams, timers, () => releases++);
  return { timers, settler, traffic: (n = 1) => (datagrams += n), releases: () => releases };
}

test('releases once, at the end of the first interval without a datagram', () => {
  const { timers, settler, traffic, releases } = setup();
  settler.arm();
  // Traffic in every interval: nothing yet.
  for (let i = 0; i < 5; i++) {
    traffic();
    timers.advance(QUIET_INTERVAL_MS);
  }
  assert.equal(releases(), 0);
  timers.advance(QUIET_INTERVAL_MS);
  assert.equal(releases(), 1);
  assert.equal(timers.pending, 0, 'no check left running');
  timers.advance(10 * QUIET_INTERVAL_MS);
  assert.equal(releases(), 1);
});

test('re-armed (a reload) it releases again; armed twice it releases once; stopped it never does', () => {
  const { timers, settler, releases } = setup();
  settler.arm();
  settler.arm();
  timers.advance(QUIET_INTERVAL_MS);
  assert.equal(releases(), 1);
  settler.arm();
  timers.advance(QUIET_INTERVAL_MS);
  assert.equal(releases(), 2);
  settler.arm();
  settler.stop();
  timers.advance(10 * QUIET_INTERVAL_MS);
  assert.equal(releases(), 2);
  assert.equal(timers.pending, 0);
});
