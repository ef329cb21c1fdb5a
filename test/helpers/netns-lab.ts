import type { TestContext } from 'node:test';
import { NetnsLab, netnsSkipReason } from '../../src/lab/netns.js';
import { skipTest } from './skip.js';

/**
 * A NetnsLab for a root-only test, cleaned up when the test ends; or, when `reason` says this host
 * cannot run the test (by default: no root, namespaces or TUN), undefined after skipping the test.
 */
export function netnsLabOrSkip(t: TestContext, reason = netnsSkipReason()): NetnsLab | undefined {
  if (reason) {
    skipTest(t, reason);
    return undefined;
  }
  return NetnsLab.create(t);
}
