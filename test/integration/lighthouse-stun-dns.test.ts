/**
 * STUN and DNS on real loopback sockets (no root: every node runs with tun.disabled):
 *  - `dig` resolves a connected host's certificate name against a `mesh` lighthouse process, and a
 *    mesh node learns its address from that lighthouse over STUN (both lighthouse ports);
 *  - a real nebula 1.6.1 lighthouse ignores STUN silently (nothing logged at info or above, no
 *    reply) and still handshakes with a mesh node that keeps sending it STUN requests.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bindUdp } from '../../src/io/udp.js';
import { MESH_BIN } from '../../src/lab/binaries.js';
import { terminate } from '../../src/lab/netns.js';
import { within } from '../../src/lab/wait.js';
import { nebulaConfig, nebulaConfigYaml, type NodeConfigOptions } from '../../src/lab/configs.js';
import { makeCA, makeHost, type TestHost } from '../../src/lab/pki.js';
import { parseIp } from '../../src/net/ipv4.js';
import { parseConfig } from '../../src/node/config.js';
import { MeshNode } from '../../src/node/node.js';
import { decodeStun, encodeBindingRequest, newTransactionId } from '../../src/protocol/stun-codec.js';
import { FAST_TIMERS, sleep, testLogger, waitFor } from '../helpers/memory-mesh.js';
import { skipOption } from '../helpers/skip.js';

const NEBULA = '/usr/bin/nebula';
const DIG = '/usr/bin/dig';

const ca = makeCA('Loopback CA', { ips: ['10.77.0.0/16'] });
const lighthouseHost = makeHost(ca, 'lighthouse', '10.77.0.1/16');
const clientHost = makeHost(ca, 'laptop.example', '10.77.0.2/16', { groups: ['laptop'] });
const markerHost = makeHost(ca, 'marker', '10.77.0.3/16');

const tmp = mkdtempSync(join(tmpdir(), 'mesh-stun-dns-'));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
});

/** A UDP port free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Runs a process, collecting its output lines; resolves once a line matches `ready`. */
async function startProcess(cmd: string, args: string[], ready: RegExp): Promise<{ proc: ChildProcess; lines: string[] }> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter((l) => l.length > 0));
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  await waitFor(() => lines.some((l) => ready.test(l)) || proc.exitCode !== null, 15_000, `${cmd} to start`);
  assert.equal(proc.exitCode, null, `${cmd} exited:\n${lines.join('\n')}`);
  return { proc, lines };
}

/** An in-process mesh node on 127.0.0.1 (random port) whose lighthouse is at 127.0.0.1:`port`. */
async function startClient(host: TestHost, lighthouseIp: string, port: number, stunInterval: string): Promise<MeshNode> {
  const raw = nebulaConfig({
    ca: host.ca,
    cert: host.certPem,
    key: host.keyPem,
    listen: { host: '127.0.0.1', port: 0 },
    lighthouses: [lighthouseIp],
    staticHostMap: { [lighthouseIp]: [`127.0.0.1:${port}`] },
    tun: { disabled: true },
    extra: { ...FAST_TIMERS, stun: { interval: stunInterval } },
  });
  return MeshNode.start(parseConfig(raw, `${host.name}.yml`).config, testLogger(host.name), { bindUdp });
}

/** Writes `file` (in the temp directory): the lighthouse's config on 127.0.0.1:`port`, TUN disabled. Returns its path. */
function lighthouseConfig(file: string, port: number, more: Omit<NodeConfigOptions, 'ca' | 'cert' | 'key' | 'listen'> = {}): string {
  const path = join(tmp, file);
  writeFileSync(
    path,
    nebulaConfigYaml({
      ca: lighthouseHost.ca,
      cert: lighthouseHost.certPem,
      key: lighthouseHost.keyPem,
      listen: { host: '127.0.0.1', port },
      amLighthouse: true,
      tun: { disabled: true },
      ...more,
    }),
  );
  return path;
}

function dig(port: number, ...args: string[]): string {
  const r = spawnSync(DIG, ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', ...args], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `dig ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

describe('STUN and DNS on loopback', () => {
  it('dig resolves a connected host against a mesh lighthouse, which also answers STUN on both ports', { skip: skipOption(!existsSync(DIG) && 'dig (dnsutils) not installed'), timeout: 60_000 }, async () => {
    const [listenPort, stunPort, dnsPort] = [await freePort(), await freePort(), await freePort()];
    const configPath = lighthouseConfig('mesh-lighthouse.yml', listenPort, {
      extra: {
        lighthouse: { am_lighthouse: true, serve_dns: true, dns: { host: '127.0.0.1', port: dnsPort } },
        stun: { alternate_port: stunPort },
      },
    });
    const { proc, lines } = await startProcess(process.execPath, [MESH_BIN, 'node', '--config', configPath], /serving DNS/);
    const client = await startClient(clientHost, '10.77.0.1', listenPort, '60s');
    try {
      client.handshakes.start(parseIp('10.77.0.1'));
      await waitFor(() => client.hostmap.get(parseIp('10.77.0.1'))?.established === true, 10_000, `tunnel to the lighthouse\n${lines.join('\n')}`);

      assert.equal(dig(dnsPort, '+short', 'laptop.example', 'A').trim(), '10.77.0.2');
      assert.equal(dig(dnsPort, '+short', 'LIGHTHOUSE.', 'A').trim(), '10.77.0.1');
      assert.match(dig(dnsPort, 'nobody.example', 'A'), /status: NXDOMAIN/);
      assert.match(dig(dnsPort, '+short', '10.77.0.2', 'TXT'), /"Name: laptop\.example"/);

      // STUN over real sockets: the mapping seen from both lighthouse ports is our own socket.
      await waitFor(() => client.nat.reflexive !== null, 5000, 'a STUN answer');
      assert.deepEqual(client.nat.reflexive, { address: '127.0.0.1', port: client.listenPort });
      assert.equal(client.nat.symmetric, false);
      const prober = dgram.createSocket('udp4');
      const id = newTransactionId();
      const reply = new Promise<Buffer>((resolve) => prober.once('message', resolve));
      prober.send(encodeBindingRequest(id), stunPort, '127.0.0.1');
      const answer = decodeStun(await within(reply, 5000, 'a STUN answer on the alternate port'));
      prober.close();
      assert.equal(answer.kind, 'binding-success');
      if (answer.kind === 'binding-success') assert.deepEqual(answer.other, { address: '127.0.0.1', port: listenPort }, 'the alternate port names the listen port');
    } finally {
      await client.stop();
      await terminate(proc, 'SIGTERM', 10_000);
    }
  });

  it('a nebula 1.6.1 lighthouse ignores STUN silently and keeps working', { skip: skipOption(!existsSync(NEBULA) && 'nebula not installed'), timeout: 60_000 }, async () => {
    const port = await freePort();
    const configPath = lighthouseConfig('nebula-lighthouse.yml', port, { logLevel: 'info' });
    const { proc, lines } = await startProcess(NEBULA, ['-config', configPath], /Nebula interface is active/);
    try {
      await sleep(300);
      const startup = lines.length;
      const prober = dgram.createSocket('udp4');
      const replies: Buffer[] = [];
      prober.on('message', (data) => replies.push(data));
      await new Promise<void>((resolve) => prober.bind(0, '127.0.0.1', resolve));
      const request = encodeBindingRequest(newTransactionId());
      const indication = Buffer.from(request);
      indication[1] = 0x11;
      for (const data of [request, encodeBindingRequest(newTransactionId()), indication, Buffer.concat([request, Buffer.alloc(4)])]) {
        prober.send(data, port, '127.0.0.1');
      }

      // A mesh node that asks it for STUN every 200 ms still gets a tunnel, and nebula complains about
      // nothing. Nebula reads its one socket in order: once the handshake that follows the probes is
      // logged, the probes were read (what they caused is in the log and in `replies` by then).
      const client = await startClient(clientHost, '10.77.0.1', port, '200ms');
      try {
        client.handshakes.start(parseIp('10.77.0.1'));
        await waitFor(() => client.hostmap.get(parseIp('10.77.0.1'))?.established === true, 10_000, `tunnel to nebula\n${lines.join('\n')}`);
        prober.close();
        assert.equal(replies.length, 0, 'nebula did not answer the STUN probes');
        // Three more rounds of the client's STUN requests, then a second host's handshake: once nebula
        // logs that one, it has read the requests sent before it.
        for (let i = 0; i < 3; i++) await client.nat.refresh();
        const handshakesLogged = () => lines.filter((l) => /Handshake message/.test(l)).length;
        const before = handshakesLogged();
        const marker = await startClient(markerHost, '10.77.0.1', port, '60s');
        try {
          marker.handshakes.start(parseIp('10.77.0.1'));
          await waitFor(() => handshakesLogged() > before, 10_000, `nebula logging the marker's handshake\n${lines.join('\n')}`);
        } finally {
          await marker.stop();
        }
        assert.equal(client.nat.reflexive, null);
        const noisy = lines.slice(startup).filter((l) => /level=(warning|error|fatal)/.test(l) || !/Handshake message/.test(l));
        assert.deepEqual(noisy, [], 'only the handshake was logged');
        assert.ok(lines.slice(startup).some((l) => /Handshake message/.test(l)), 'the log is being read');
      } finally {
        await client.stop();
      }
    } finally {
      await terminate(proc, 'SIGTERM', 10_000);
    }
  });
});
