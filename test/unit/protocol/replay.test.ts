import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REPLAY_WINDOW, ReplayWindow } from '../../../src/protocol/replay.js';

/** A tunnel's window as Nebula builds it: 0 marked at creation, 1 and 2 by the handshake. */
function tunnelWindow(): ReplayWindow {
  const w = new ReplayWindow();
  assert.equal(w.update(0), true);
  assert.equal(w.update(1), true);
  assert.equal(w.update(2), true);
  return w;
}

/** The receive path: check, (decrypt), update. */
function receive(w: ReplayWindow, c: number): boolean {
  return w.check(c) && w.update(c);
}

describe('ReplayWindow', () => {
  it('defaults to 1024 slots', () => {
    assert.equal(REPLAY_WINDOW, 1024);
    assert.equal(new ReplayWindow().size, 1024);
  });

  it('a new window accepts 0 exactly once', () => {
    const w = new ReplayWindow();
    assert.equal(w.check(0), true);
    assert.equal(w.update(0), true);
    assert.equal(w.check(0), false);
    assert.equal(w.update(0), false);
    assert.equal(w.current, 0);
  });

  it('counters 0, 1, 2 are rejected on an established tunnel; 3 is the first accepted', () => {
    const w = tunnelWindow();
    for (const c of [0, 1, 2]) {
      assert.equal(w.check(c), false, `check ${c}`);
      assert.equal(w.update(c), false, `update ${c}`);
    }
    assert.equal(w.current, 2);
    assert.equal(receive(w, 3), true);
    assert.equal(receive(w, 3), false);
  });

  it('in-order counters advance current', () => {
    const w = tunnelWindow();
    for (let c = 3; c < 5000; c++) assert.equal(receive(w, c), true);
    assert.equal(w.current, 4999);
  });

  it('exact duplicates are rejected, including of current', () => {
    const w = tunnelWindow();
    receive(w, 3);
    receive(w, 10);
    assert.equal(w.check(10), false);
    assert.equal(w.update(10), false);
    assert.equal(w.check(3), false);
    assert.equal(w.update(3), false);
  });

  it('skipped counters inside the window stay acceptable, once', () => {
    const w = tunnelWindow();
    assert.equal(receive(w, 100), true);
    assert.equal(w.current, 100);
    for (let c = 3; c < 100; c++) {
      assert.equal(w.check(c), true, `check ${c}`);
    }
    assert.equal(receive(w, 50), true);
    assert.equal(w.current, 100, 'out-of-order arrival does not move current');
    assert.equal(receive(w, 50), false);
    assert.equal(receive(w, 99), true);
    assert.equal(receive(w, 3), true);
  });

  it('advancing clears slots reused by the new counters (wrap-around)', () => {
    const w = tunnelWindow();
    for (let c = 3; c <= 1030; c++) assert.equal(receive(w, c), true);
    // current = 1030; slots for 7..1030 set. Jump by 500: counters 1031..1529 are unseen now.
    assert.equal(receive(w, 1530), true);
    for (let c = 1031; c < 1530; c++) assert.equal(w.check(c), true, `check ${c}`);
    assert.equal(receive(w, 1200), true);
    assert.equal(receive(w, 1200), false);
    // 1029 and 1030 are still within the window and seen
    assert.equal(w.check(1030), false);
    // 506 = 1530 - 1024: out of the window, refused by update
    assert.equal(w.update(506), false);
    assert.equal(w.update(507), false, '507 was seen (slot still set)');
  });

  it('boundary: current - 1024 is too old, current - 1023 is the oldest in-window counter', () => {
    const w = tunnelWindow();
    assert.equal(receive(w, 2000), true);
    assert.equal(w.check(2000 - 1024), false);
    assert.equal(w.update(2000 - 1024), false);
    assert.equal(w.check(2000 - 1023), true);
    assert.equal(w.update(2000 - 1023), true);
    assert.equal(w.update(2000 - 1023), false);
  });

  it('a jump of exactly 1024 or more clears the whole window', () => {
    const w = tunnelWindow();
    for (let c = 3; c <= 20; c++) receive(w, c);
    assert.equal(receive(w, 20 + 1024), true);
    assert.equal(w.current, 1044);
    // every counter in (20, 1044) is unseen; 20 itself is now out of the window
    for (let c = 21; c < 1044; c++) assert.equal(w.check(c), true, `check ${c}`);
    assert.equal(w.update(20), false);
    const w2 = tunnelWindow();
    assert.equal(receive(w2, 1_000_000), true);
    assert.equal(receive(w2, 999_999), true);
    assert.equal(receive(w2, 1_000_000 - 1024), false);
    assert.equal(receive(w2, 2 ** 52), true);
  });

  it('a jump of 1023 keeps the newest slots', () => {
    const w = tunnelWindow();
    for (let c = 3; c <= 10; c++) receive(w, c);
    assert.equal(receive(w, 10 + 1023), true);
    assert.equal(w.check(10), false, '10 is still inside the window and was seen');
    assert.equal(w.update(10), false);
    assert.equal(w.check(11), true);
  });

  it('during the first window any unseen counter below 1024 is accepted', () => {
    const w = tunnelWindow();
    assert.equal(receive(w, 900), true);
    assert.equal(receive(w, 5), true);
    assert.equal(receive(w, 5), false);
    assert.equal(receive(w, 899), true);
  });

  it('too-old counters are rejected by update; check answers like bits.go for counters < 1024', () => {
    const w = tunnelWindow();
    receive(w, 5000);
    assert.equal(w.check(3000), false);
    assert.equal(w.update(3000), false);
    // bits.go quirk: a counter below the window size is answered from its (reused) slot.
    assert.equal(w.check(100), true);
    assert.equal(w.update(100), false);
    assert.equal(w.current, 5000);
  });

  it('check never changes state', () => {
    const w = tunnelWindow();
    receive(w, 10);
    for (let i = 0; i < 3; i++) {
      assert.equal(w.check(7), true);
      assert.equal(w.check(11), true);
    }
    assert.equal(w.current, 10);
    assert.equal(receive(w, 7), true);
  });

  it('matches a straightforward model on random traffic', () => {
    // Model: the set of accepted counters; a counter is fresh iff > max, or > max-1024 and not in the set.
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const w = tunnelWindow();
    const seen = new Set<number>([0, 1, 2]);
    let max = 2;
    for (let i = 0; i < 20000; i++) {
      const r = rand() % 100;
      let c: number;
      if (r < 60) c = max + 1 + (rand() % 3);
      else if (r < 95) c = Math.max(0, max - (rand() % 1100));
      else c = max + (rand() % 3000);
      const fresh = c > max || (c > max - 1024 && !seen.has(c));
      assert.equal(w.update(c), fresh, `counter ${c} with max ${max}`);
      if (fresh) {
        seen.add(c);
        max = Math.max(max, c);
      }
    }
  });

  it('supports other sizes', () => {
    const w = new ReplayWindow(8);
    w.update(0);
    assert.equal(w.update(5), true);
    assert.equal(w.update(1), true);
    assert.equal(w.update(20), true);
    assert.equal(w.update(12), false);
    assert.equal(w.update(13), true);
    assert.throws(() => new ReplayWindow(0));
  });
});
