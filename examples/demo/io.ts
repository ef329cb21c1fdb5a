/** What every act of `npm run demo` gets: plain-words output and a hook for Ctrl-C cleanup. */
export interface DemoIO {
  /** One line of progress, indented under the current step. */
  say(message: string): void;
  /** A numbered step heading. */
  step(title: string): void;
  /** Registers what to undo if the demo is interrupted now (replaces the previous registration). */
  onInterrupt(cleanup: () => Promise<void>): void;
  /** Prints logs that explain a failure (not when the failure is the user's Ctrl-C). */
  diagnose(text: string): void;
}

/** Wraps a cleanup so that the act's own `finally` and a Ctrl-C share one run of it and both can await it. */
export function cleanupOnce(cleanup: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= cleanup());
}

/** An act either runs to the end or says in one line why it cannot run on this machine. */
export type ActResult = { ran: true } | { ran: false; reason: string };

/** Throws with `message` unless `condition` holds (the demo checks what it shows). */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
