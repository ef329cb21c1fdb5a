/**
 * The snapshot's build-time rehearsal of a tunnel (src/cli/rehearse-tunnel.ts): two in-memory nodes start,
 * handshake, carry a ping each way and stop, leaving nothing running that a snapshot could not hold.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { rehearseTunnel } from '../../../src/cli/rehearse-tunnel.js';

test('rehearseTunnel brings a tunnel up between two in-memory nodes, pings through it both ways and stops both', async () => {
  const lines: { msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
  const before = resources();
  await rehearseTunnel(log);
  const said = (msg: string) => lines.filter((l) => l.msg === msg).length;
  assert.equal(said('mesh node started'), 2);
  assert.equal(said('handshake message 2 received, tunnel up (initiator)'), 1);
  assert.equal(said('handshake message 1 received, tunnel up (responder)'), 1);
  assert.equal(said('mesh node stopped'), 2);
  // No timer, socket or handle of either node is left: a snapshot holds none.
  await new Promise((resolve) => setImmediate(resolve));
  for (const [kind, n] of resources()) assert.ok(n <= (before.get(kind) ?? 0), `${n} ${kind} left, ${before.get(kind) ?? 0} before`);
});

/** The process's active resources (timers, handles, requests) by kind. */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}
