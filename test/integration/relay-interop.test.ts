/**
 * Relays against real nebula 1.6.1 in network namespaces (root only; skips with the reason when
 * that, the native addon or `nebula`/`nebula-cert` is missing). A sits on underlay side a, B on
 * side b; only the relay R and the lighthouse L join both sides and neither forwards IP, so A and B
 * can reach each other only through the overlay relay (checked before each run).
 *
 * 1. nebula A → mesh R → nebula B: the mesh node relays between two nebula ends (nebula lighthouse).
 * 2. mesh A → nebula R (lighthouse and relay) → mesh B.
 * 3. mesh A → mesh R → nebula B (nebula lighthouse).
 * Cases with a mesh end need the mesh lighthouse client (the only way a 1.6 node learns a peer's
 * relays) and skip with that reason in a build without it.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Impl } from '../../src/lab/binaries.js';
import { labSkipReason, withLab } from '../../src/lab/lab.js';
import { meshLearnsRelaysFromLighthouse, RelayLab } from '../helpers/relay-lab.js';
import { skipTest } from '../helpers/skip.js';

interface Case {
  title: string;
  a: Impl;
  r: Impl;
  b: Impl;
  /** R is also the lighthouse (else a separate nebula lighthouse L). */
  rIsLighthouse: boolean;
}

const cases: Case[] = [
  { title: 'nebula A -> mesh R -> nebula B', a: 'nebula', r: 'mesh', b: 'nebula', rIsLighthouse: false },
  { title: 'mesh A -> nebula R (lighthouse + relay) -> mesh B', a: 'mesh', r: 'nebula', b: 'mesh', rIsLighthouse: true },
  { title: 'mesh A -> mesh R -> nebula B', a: 'mesh', r: 'mesh', b: 'nebula', rIsLighthouse: false },
];

let lighthouseProbe: Promise<boolean> | null = null;

async function skipReason(c: Case): Promise<string | undefined> {
  const reason = await labSkipReason({ nebula: true, nebulaCert: true, meshTun: c.a === 'mesh' || c.b === 'mesh' });
  if (reason) return reason;
  lighthouseProbe ??= meshLearnsRelaysFromLighthouse();
  if ((c.a === 'mesh' || c.b === 'mesh') && !(await lighthouseProbe)) {
    return 'the mesh lighthouse client in this build does not take relays from lighthouse answers';
  }
  return undefined;
}

for (const c of cases) {
  test(`relay interop: ${c.title}: ping both ways with no direct underlay path`, { timeout: 90_000 }, async (t: TestContext) => {
    const reason = await skipReason(c);
    if (reason) {
      skipTest(t, reason);
      return;
    }
    await withLab(RelayLab.create(t), async (lab) => {
      const lighthouse = c.rIsLighthouse ? 'r' : 'l';
      if (!c.rIsLighthouse) await lab.addHost('l', { impl: 'nebula', sides: ['a', 'b'], amLighthouse: true, tunDisabled: true });
      await lab.addHost('r', { impl: c.r, sides: ['a', 'b'], amRelay: true, amLighthouse: c.rIsLighthouse, knows: ['a', 'b'], tunDisabled: c.r === 'mesh' });
      await lab.addHost('a', { impl: c.a, sides: ['a'], lighthouses: [lighthouse], knows: ['r'] });
      await lab.addHost('b', { impl: c.b, sides: ['b'], lighthouses: [lighthouse], knows: ['r'], relays: ['r'] });
      assert.equal(await lab.underlayReachable('a', 'r', 'a'), true, 'A reaches R on side a');
      assert.equal(await lab.underlayReachable('a', 'b', 'b'), false, 'A cannot reach B directly');

      if (!c.rIsLighthouse) await lab.start('l');
      await lab.start('r');
      await lab.start('b');
      await lab.start('a');
      await lab.waitForPing('a', 'b', 30_000);
      await lab.waitForPing('b', 'a', 10_000);
      for (let i = 0; i < 3; i++) assert.equal((await lab.ping('a', 'b')).code, 0, `ping ${i} through the relay`);
      if (c.r === 'mesh') assert.match(lab.log('r'), /relay established/, 'mesh R set the relay up');
      else assert.match(lab.log('r'), /handleCreateRelayRequest/, 'nebula R was asked for the relay');
    });
  });
}
