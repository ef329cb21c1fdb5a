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

/** An act either runs to the end or says in one line why it cannot run on this machine. */
export type ActResult = { ran: true } | { ran: false; reason: string };

/**
 * Runs an act's steps with its lab: a Ctrl-C cleans the lab up; on failure `explain` says what the
 * lab knows (node logs, say); either way the last step, `cleanupStep`, removes everything the lab made.
 */
export async function runAct<L extends { cleanup(): Promise<void> }>(
  io: DemoIO,
  lab: L,
  options: { explain: (lab: L) => Promise<string> | string; cleanupStep: string },
  steps: (lab: L) => Promise<void>,
): Promise<ActResult> {
  // The act's own `finally` and a Ctrl-C share one run of the cleanup, and both can await it.
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaning ??= lab.cleanup());
  io.onInterrupt(cleanup);
  try {
    await steps(lab);
    return { ran: true };
  } catch (err) {
    io.diagnose(await options.explain(lab));
    throw err;
  } finally {
    io.step(options.cleanupStep);
    await cleanup();
  }
}

/** Throws with `message` unless `condition` holds (the demo checks what it shows). */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
