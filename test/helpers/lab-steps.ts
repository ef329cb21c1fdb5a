/** A lab as the steps see it: its id and every log tail. */
interface LoggingLab {
  readonly lab: { readonly id: string };
  allLogTails(): string;
}

/**
 * Wraps the steps of a suite that shares one lab: the first step that fails prints the log tail of
 * every node and daemon in the lab (once), then rethrows.
 */
export function labSteps(kind: string, current: () => LoggingLab | undefined): (fn: () => Promise<void>) => () => Promise<void> {
  let failed = false;
  return (fn) => async () => {
    try {
      await fn();
    } catch (err) {
      const lab = current();
      if (!failed) process.stderr.write(`\n=== ${kind} lab ${lab?.lab.id} logs ===\n${lab?.allLogTails() ?? ''}\n=== end of logs ===\n`);
      failed = true;
      throw err;
    }
  };
}
