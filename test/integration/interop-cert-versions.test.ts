/**
 * Issue 16's "done when" for handshakes: a mesh host holding a v1 and a v2 certificate (one PEM
 * file, one key) talks v1 to a real nebula 1.6.1 node and v2 to a mesh node holding only a v2
 * certificate, at the same time; each in its own network namespace with a real TUN device (root
 * only; skips with the reason when that, the native addon or `nebula` is missing).
 *
 * Trust is set up so that only the intended version can work: nebula trusts only the v1 CA (and
 * 1.6.1 reads no v2 certificate), the v2-only mesh node trusts only the v2 CA. So each working
 * ping proves the dual host answered in the peer's version; `mesh status --json` says it as well.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MESH_BIN } from '../../src/lab/binaries.js';
import { labSkipReason } from '../../src/lab/lab.js';
import { withOverlayLab, type OverlayLab } from '../../src/lab/overlay.js';
import { makeCA, makeHost, type TestCA } from '../../src/lab/pki.js';
import { generateX25519KeyPair } from '../../pki/keys.js';
import type { StatusReport } from '../../src/cli/status.js';
import { skipTest } from '../helpers/skip.js';

async function status(lab: OverlayLab, host: string): Promise<StatusReport> {
  const r = await lab.lab.exec(lab.host(host).ns, process.execPath, [MESH_BIN, 'status', '--json', '--config', lab.host(host).configPath], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `mesh status on ${host}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusReport;
}

test('a mesh host with v1 and v2 certificates talks v1 to nebula 1.6.1 and v2 to a v2-only mesh node at the same time', { timeout: 120_000 }, async (t) => {
  const reason = await labSkipReason({ nebula: true });
  if (reason) {
    skipTest(t, reason);
    return;
  }
  await withOverlayLab(t, { net: 37 }, async (lab) => {
    const dual = await lab.addHost('dual', { impl: 'mesh' });
    const neb = await lab.addHost('neb', { impl: 'nebula' });
    const v2only = await lab.addHost('modern', { impl: 'mesh' });
    const dir = dirname(dual.certPath);

    const v1ca = makeCA('cert versions v1 CA');
    const v2ca = makeCA('cert versions v2 CA', { version: 2 });
    /** Writes the host's certificates (one per CA, one key), its key and the CAs it trusts, and points its pki at them. */
    const files = (host: typeof dual, signers: TestCA[], trusted: TestCA[]) => {
      const keys = generateX25519KeyPair();
      const certs = signers.map((ca) => makeHost(ca, host.name, `${host.vpnIp}/24`, { keys }));
      writeFileSync(host.certPath, certs.map((c) => c.certPem).join(''));
      writeFileSync(host.keyPath, certs[0]!.keyPem, { mode: 0o600 });
      const caPath = join(dir, `${host.name}-ca.crt`);
      writeFileSync(caPath, trusted.map((ca) => ca.pem).join(''));
      host.extra = { pki: { ca: caPath, cert: host.certPath, key: host.keyPath } };
    };
    files(dual, [v1ca, v2ca], [v1ca, v2ca]);
    files(neb, [v1ca], [v1ca]);
    files(v2only, [v2ca], [v2ca]);

    for (const name of ['dual', 'neb', 'modern']) await lab.start(name);
    const before = await status(lab, 'dual');
    assert.deepEqual(before.certificate.versions, [1, 2]);
    assert.equal(before.certificate.initiatingVersion, 1, 'v1 is held: handshakes start in v1, as nebula 1.10 does');

    // dual -> nebula: dual initiates in v1. modern -> dual: modern initiates in v2, dual answers in v2.
    await lab.waitForPing('dual', 'neb');
    await lab.waitForPing('modern', 'dual');
    // Both tunnels carry traffic at once, in both directions.
    const pings = await Promise.all([lab.ping('dual', 'neb', 3), lab.ping('neb', 'dual', 3), lab.ping('dual', 'modern', 3), lab.ping('modern', 'dual', 3)]);
    for (const p of pings) assert.equal(p.code, 0, p.stdout + p.stderr);

    const s = await status(lab, 'dual');
    const tunnelTo = (host: typeof dual) => s.tunnels.find((x) => x.vpnIp === host.vpnIp);
    assert.equal(tunnelTo(neb)?.certVersion, 1, 'nebula 1.6.1 got and gave v1');
    assert.equal(tunnelTo(v2only)?.certVersion, 2, 'the v2-only node got and gave v2');
    assert.equal((await status(lab, 'modern')).tunnels.find((x) => x.vpnIp === dual.vpnIp)?.certVersion, 2);
    assert.doesNotMatch(lab.log('neb'), /Invalid certificate from host/);
  });
});
