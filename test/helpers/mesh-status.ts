import assert from 'node:assert/strict';
import { MESH_BIN } from '../../src/lab/binaries.js';
import type { OverlayLab } from '../../src/lab/overlay.js';
import type { StatusReport } from '../../src/cli/status.js';

/** `mesh status --json` of a lab host, run in its namespace. */
export async function meshStatus(lab: OverlayLab, host: string): Promise<StatusReport> {
  const r = await lab.lab.exec(lab.host(host).ns, process.execPath, [MESH_BIN, 'status', '--json', '--config', lab.host(host).configPath], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `mesh status on ${host}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusReport;
}

/**
 * Asserts that the host's native fast path forwarded packets both ways (so a fast path silently
 * left unused fails), unless the lab runs with it off (MESH_LAB_FAST_PATH=0): then that it is off.
 */
export async function assertFastPathForwarded(lab: OverlayLab, host: string): Promise<void> {
  const fast = (await meshStatus(lab, host)).counters.fastPath;
  if (process.env.MESH_LAB_FAST_PATH === '0') {
    assert.equal(fast, null, `${host}: fast path on although tun.fast_path is false`);
    return;
  }
  assert.ok(fast, `${host}: no fast path`);
  assert.ok(fast.rxPackets > 0 && fast.txPackets > 0, `${host}: the fast path forwarded nothing: ${JSON.stringify(fast)}`);
}

/**
 * Asserts from a mesh host's start-up log which kernel offloads it runs with: all of them (this
 * kernel, 6.2+, has every one; a fallback to fewer would show here) or, with `on` false, none.
 */
export function assertKernelOffloads(lab: OverlayLab, host: string, on: boolean): void {
  const log = lab.log(host);
  assert.match(log, on ? /tunOffloads="vnet_hdr,csum,tso4,tso6,uso4,uso6"/ : /tunOffloads=none/, lab.logTail(host));
  assert.match(log, on ? /udpOffloads="gso,gro"/ : /udpOffloads=none/, lab.logTail(host));
}
