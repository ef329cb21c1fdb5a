/**
 * `npm run demo` (as root): a small mesh overlay in network namespaces.
 *
 * Builds an underlay (a bridge in its own namespace, one namespace per host joined to it by a
 * veth pair), makes a CA and host certificates with `mesh ca init/sign`, starts a mesh node in each
 * host namespace, pings across the overlay, sends data over TCP through it and compares checksums,
 * then removes everything it made (processes, namespaces with their interfaces, temp files).
 */
import { netnsSkipReason } from '../test/helpers/netns.js';
import { OverlayLab, overlaySkipReason } from '../test/helpers/overlay-lab.js';

const TRANSFER_BYTES = 20 * 1024 * 1024;
const PORT = 7000;

function say(message: string): void {
  process.stdout.write(`  ${message}\n`);
}

function step(title: string): void {
  process.stdout.write(`\n== ${title}\n`);
}

async function main(): Promise<number> {
  process.stdout.write('mesh demo: two mesh nodes talking over an encrypted overlay, each in its own network namespace\n');
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      '\nThis demo needs root: it creates network namespaces, a bridge, veth pairs and TUN devices.\n' +
        'Run it as root, e.g. `sudo npm run demo`. Nothing was changed.\n',
    );
    return 1;
  }
  const reason = netnsSkipReason() ?? (await overlaySkipReason());
  if (reason) {
    process.stderr.write(`\nThis demo cannot run here: ${reason}. Nothing was changed.\n`);
    return 1;
  }

  const lab = OverlayLab.create(undefined, { net: 77, pki: 'mesh', cipher: 'aes', say });
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    process.stdout.write(`\n${signal} received, cleaning up...\n`);
    void lab.cleanup().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
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
    if (ping.code !== 0) throw new Error('ping alice -> bob failed');
    await lab.waitForPing('bob', 'alice');
    const handshake = /handshake message 2 received, tunnel up \(initiator\)/.test(lab.log('alice'));
    say(`alice's log ${handshake ? 'shows' : 'does not show'} "tunnel up (initiator)": alice started the handshake, bob answered`);

    step(`5. TCP transfer over the overlay: ${TRANSFER_BYTES >> 20} MiB from alice to bob, checked with SHA-256`);
    await lab.tcpServe('bob', [PORT]);
    say(`bob listens on ${bob.vpnIp}:${PORT} and hashes what it receives`);
    const r = await lab.tcpSend('alice', 'bob', PORT, TRANSFER_BYTES, 5000, 120_000);
    if (!r.connected || r.received !== TRANSFER_BYTES || r.sentSha256 !== r.receivedSha256) {
      throw new Error(`transfer failed: ${JSON.stringify(r)}`);
    }
    say(`sha256 sent     ${r.sentSha256}`);
    say(`sha256 received ${r.receivedSha256}`);

    step('6. Stop the nodes with SIGTERM (each tells its peer with a closeTunnel)');
    const exitA = await lab.stop('alice');
    await lab.stop('bob');
    if (/peer closed the tunnel/.test(lab.log('bob'))) say("bob's log: peer closed the tunnel (alice said goodbye)");
    say(`alice's TUN device ${alice.tunDev} ${(await lab.deviceExists('alice', alice.tunDev)) ? 'still exists!' : 'is gone'}`);
    if (exitA.code !== 0) throw new Error(`alice exited with ${exitA.code ?? exitA.signal}`);

    step('7. Clean up');
    await lab.cleanup();
    process.stdout.write('\nDemo finished: everything it created has been removed.\n');
    return 0;
  } catch (err) {
    process.stderr.write(`\nDemo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    const tails = lab.allLogTails(20);
    if (tails) process.stderr.write(`\nNode logs:\n${tails}\n`);
    step('Clean up');
    await lab.cleanup();
    return 1;
  }
}

process.exitCode = await main();
