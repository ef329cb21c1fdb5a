/**
 * Timers as a capability: components that wait (handshake retries, liveness, lighthouse updates,
 * STUN back-off) take a `Timers` instead of calling setTimeout, so tests can drive them with a fake
 * clock. The system timers never keep the process alive on their own.
 */
export interface Timer {
  cancel(): void;
}

export interface Timers {
  /** Runs `run` once after `ms`. */
  after(ms: number, run: () => void): Timer;
  /** Runs `run` every `ms` until cancelled. */
  every(ms: number, run: () => void): Timer;
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemTimers: Timers = {
  after(ms, run) {
    const timer = setTimeout(run, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
  every(ms, run) {
    const timer = setInterval(run, ms);
    timer.unref();
    return { cancel: () => clearInterval(timer) };
  },
  now: () => Date.now(),
};
