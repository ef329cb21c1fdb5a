/** Waiting helpers shared by the labs (and their tests, the demo and the bench). */
import type { ExecResult } from './netns.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Calls `check` every `intervalMs` until it returns something other than undefined or false, and
 * returns that. After `timeoutMs` it throws an Error with `describeTimeout()`'s message. `check` may
 * itself throw to give up early (a process that died while we waited for it, say).
 */
export async function pollUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  describeTimeout: () => string,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(describeTimeout());
    await sleep(intervalMs);
  }
}

/** Retries `attempt` (a command in a container, say) until it exits 0; throws with the last output. */
export async function eventually(what: string, attempt: () => Promise<ExecResult>, timeoutMs = 20_000): Promise<ExecResult> {
  const deadline = Date.now() + timeoutMs;
  let last: ExecResult;
  do {
    last = await attempt();
    if (last.code === 0) return last;
    await sleep(300);
  } while (Date.now() < deadline);
  throw new Error(`${what}: no success within ${timeoutMs} ms (exit ${last.code ?? last.signal}): ${last.stdout.trim()} ${last.stderr.trim()}`);
}

/** `promise`, or an Error naming `what` once `timeoutMs` have passed (for awaits on a socket, a process, an event). */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}
