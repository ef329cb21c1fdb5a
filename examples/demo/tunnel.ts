/**
 * Act "tunnel": two mesh nodes on a shared underlay (a bridge in its own namespace, one namespace
 * per host), a ping across the overlay and 20 MiB over TCP checked with SHA-256.
 */
import { labSkipReason } from '../../src/lab/lab.js';
import { OverlayLab } from '../../src/lab/overlay.js';
import { check, runAct, type ActResult, type DemoIO } from './io.js';

const TRANSFER_BYTES = 20 * 1024 * 1024;
const PORT = 7000;

export async function tunnelAct(io: DemoIO, namePrefix: string): Promise<ActResult> {
  const reason = await labSkipReason();
  if (reason) return { ran: false, reason };
  const { say, step } = io;
  const lab = OverlayLab.create(undefined, { net: 77, pki: 'mesh', cipher: 'aes', say, namePrefix });
  return runAct(io, lab, { explain: () => `Node logs:\n${lab.allLogTails(20)}`, cleanupStep: '7. Clean up' }, async () => {
    step('1. Underlay network: a bridge in its own namespace, one namespace per host');
    await lab.addHost('alice');
    await lab.addHost('bob');

    step('2. Certificates: a CA and one certificate per host (mesh ca init / mesh ca sign)');
    for (const h of lab.hosts.values()) await lab.certify(h);

    step('3. Start a mesh node in each host namespace (mesh node --config <nebula-style yml>)');
    await lab.start('alice');
    await lab.start('bob');
    const alice = lab.host('alice');
    const bob = lab.host('bob');
    say(`alice's overlay address ${alice.vpnIp} lives on TUN device ${alice.tunDev}; bob's ${bob.vpnIp} on ${bob.tunDev}`);
    say(`each node knows the other's underlay address from static_host_map (e.g. ${bob.vpnIp} -> ${bob.underlayIp}:${bob.listenPort})`);

    step('4. Ping across the overlay (the first packet triggers the Noise IX handshake)');
    await lab.waitForPing('alice', 'bob');
    const ping = await lab.ping('alice', 'bob', 3, 1);
    for (const line of ping.stdout.trim().split('\n')) if (line.trim()) say(`alice$ ${line}`);
    check(ping.code === 0, 'ping alice -> bob failed');
    await lab.waitForPing('bob', 'alice');
    const handshake = /handshake message 2 received, tunnel up \(initiator\)/.test(lab.log('alice'));
    say(`alice's log ${handshake ? 'shows' : 'does not show'} "tunnel up (initiator)": alice started the handshake, bob answered`);

    step(`5. TCP transfer over the overlay: ${TRANSFER_BYTES >> 20} MiB from alice to bob, checked with SHA-256`);
    await lab.tcpServe('bob', [PORT]);
    say(`bob listens on ${bob.vpnIp}:${PORT} and hashes what it receives`);
    const r = await lab.tcpSend('alice', 'bob', PORT, TRANSFER_BYTES, 5000, 120_000);
    check(r.connected && r.received === TRANSFER_BYTES && r.sentSha256 === r.receivedSha256, `transfer failed: ${JSON.stringify(r)}`);
    say(`sha256 sent     ${r.sentSha256}`);
    say(`sha256 received ${r.receivedSha256}`);

    step('6. Stop the nodes with SIGTERM (each tells its peer with a closeTunnel)');
    const exitA = await lab.stop('alice');
    await lab.stop('bob');
    if (/peer closed the tunnel/.test(lab.log('bob'))) say("bob's log: peer closed the tunnel (alice said goodbye)");
    say(`alice's TUN device ${alice.tunDev} ${(await lab.deviceExists('alice', alice.tunDev)) ? 'still exists!' : 'is gone'}`);
    check(exitA.code === 0, `alice exited with ${exitA.code ?? exitA.signal}`);
  });
}
