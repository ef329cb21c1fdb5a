import type { TestContext } from 'node:test';

/**
 * Every skip in the suites goes through here. CI sets MESH_REQUIRE_ALL_TESTS=1 and installs every
 * tool the suites need, so there a test that would skip (no root, nebula, TUN, dockerd, dig...)
 * fails instead: a green CI run means every test ran.
 */
const requireAll = process.env['MESH_REQUIRE_ALL_TESTS'] === '1';

function cannotRun(reason: string): Error {
  return new Error(`MESH_REQUIRE_ALL_TESTS=1 and this test cannot run: ${reason}`);
}

/** Inside a test: skips it with the reason (the caller returns), or fails it when all tests are required. */
export function skipTest(t: TestContext, reason: string): void {
  if (requireAll) throw cannotRun(reason);
  t.skip(reason);
}

/**
 * For a test's or suite's `skip` option: false when it can run, else the reason; when all tests are
 * required, a reason throws instead, which fails the file.
 */
export function skipOption(reason: string | false | undefined): string | false {
  if (!reason) return false;
  if (requireAll) throw cannotRun(reason);
  return reason;
}
