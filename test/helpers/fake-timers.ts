import type { Timer, Timers } from '../../src/node/timers.js';

interface Scheduled {
  at: number;
  every: number;
  run: () => void;
  cancelled: boolean;
}

/** A clock that only moves when a test says so: components under test take it as their Timers. */
export class FakeTimers implements Timers {
  private clock = 1_000_000;
  private readonly scheduled: Scheduled[] = [];

  now(): number {
    return this.clock;
  }

  after(ms: number, run: () => void): Timer {
    return this.add(ms, 0, run);
  }

  every(ms: number, run: () => void): Timer {
    return this.add(ms, ms, run);
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.scheduled.filter((s) => !s.cancelled).length;
  }

  /** Moves the clock forward, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const until = this.clock + ms;
    for (;;) {
      const due = this.scheduled.filter((s) => !s.cancelled && s.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.clock = due.at;
      if (due.every > 0) due.at += due.every;
      else due.cancelled = true;
      due.run();
    }
    this.clock = until;
  }

  private add(ms: number, every: number, run: () => void): Timer {
    const entry: Scheduled = { at: this.clock + ms, every, run, cancelled: false };
    this.scheduled.push(entry);
    return { cancel: () => void (entry.cancelled = true) };
  }
}
