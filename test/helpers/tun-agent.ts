/**
 * Child process for TUN integration tests, started inside a test namespace with
 * `ip netns exec NS node dist/test/helpers/tun-agent.js` (a process can only create a TUN in the
 * namespace it runs in). Protocol: JSON lines. Requests on stdin {id, op, ...}; replies on stdout
 * {id, ok, result} or {id, ok: false, error, code}; events {event: 'packets', packets: hex[]} per
 * read batch and {event: 'udp', data: hex, from} per received datagram.
 */
import { createInterface } from 'node:readline';
import dgram from 'node:dgram';
import { openTun, type NativeTunDevice, type TunDevice, type TunRoute } from '../../src/io/tun.js';
import { bindUdp, type NativeUdpBind } from '../../src/io/udp.js';
import { parseCidr } from '../../src/net/ipv4.js';
import { parseIpNetwork, parseIpPrefix } from '../../src/net/ip.js';

interface RouteJson {
  cidr: string;
  mtu?: number;
  metric?: number;
}

type Request =
  | { id: number; op: 'open'; name?: string; mtu: number; address: string; moreAddresses?: string[]; routes?: RouteJson[]; txQueueLength?: number; listen?: boolean; offload?: boolean; ioUring?: boolean }
  | { id: number; op: 'listen' }
  | { id: number; op: 'write'; packets: string[] }
  | { id: number; op: 'addRoute' | 'removeRoute'; route: RouteJson }
  | { id: number; op: 'udpBind'; host: string; port: number }
  | { id: number; op: 'udpSend'; to: string; port: number; payloads: string[] }
  | { id: number; op: 'udpSendGso'; from: string; to: string; port: number; payloads: string[] }
  | { id: number; op: 'stats' }
  | { id: number; op: 'close' };

const emit = (msg: unknown): void => {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
};

function routeCidr(text: string): TunRoute['cidr'] {
  if (!text.includes(':')) return parseCidr(text);
  const prefix = parseIpPrefix(text);
  if (!prefix) throw new RangeError(`invalid route ${text}`);
  return prefix;
}
const toRoute = (r: RouteJson): TunRoute => ({ cidr: routeCidr(r.cidr), ...(r.mtu !== undefined ? { mtu: r.mtu } : {}), ...(r.metric !== undefined ? { metric: r.metric } : {}) });

const tuns: TunDevice[] = [];
let udp: dgram.Socket | undefined;

function current(): TunDevice {
  const t = tuns[0];
  if (!t) throw new Error('no tun open');
  return t;
}

function listen(tun: TunDevice): void {
  tun.onPackets((packets) => emit({ event: 'packets', packets: packets.map((p) => p.toString('hex')) }));
}

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'open': {
      const tun = openTun({
        ...(req.name !== undefined ? { name: req.name } : {}),
        mtu: req.mtu,
        address: parseCidr(req.address),
        moreAddresses: (req.moreAddresses ?? []).map(parseIpNetwork),
        routes: (req.routes ?? []).map(toRoute),
        ...(req.txQueueLength !== undefined ? { txQueueLength: req.txQueueLength } : {}),
        ...(req.offload !== undefined ? { offload: req.offload } : {}),
        ...(req.ioUring !== undefined ? { ioUring: req.ioUring } : {}),
      });
      tuns.push(tun);
      if (req.listen !== false) listen(tun);
      return { name: tun.name, mtu: tun.mtu, offloads: tun.offloads, readMode: tun.readMode };
    }
    case 'listen':
      listen(current());
      return null;
    case 'write':
      return current().write(req.packets.map((h) => Buffer.from(h, 'hex')));
    case 'addRoute':
      current().addRoute(toRoute(req.route));
      return null;
    case 'removeRoute':
      current().removeRoute(toRoute(req.route));
      return null;
    case 'udpBind': {
      const sock = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(req.port, req.host, () => resolve());
      });
      sock.on('message', (msg, rinfo) => emit({ event: 'udp', data: msg.toString('hex'), from: { address: rinfo.address, port: rinfo.port } }));
      udp = sock;
      return sock.address().port;
    }
    case 'udpSend': {
      const sock = udp ?? dgram.createSocket('udp4');
      udp = sock;
      await Promise.all(
        req.payloads.map((h) => new Promise<void>((resolve, reject) => sock.send(Buffer.from(h, 'hex'), req.port, req.to, (err) => (err ? reject(err) : resolve())))),
      );
      return req.payloads.length;
    }
    case 'udpSendGso': {
      // One send() of the payloads from a native socket: equal sizes leave as one UDP_SEGMENT message.
      const sock = (await bindUdp({ host: req.from, port: 0, impl: 'native' })) as NativeUdpBind;
      try {
        const accepted = sock.send(req.payloads.map((h) => ({ data: Buffer.from(h, 'hex'), to: { address: req.to, port: req.port } })));
        return { accepted, txGsoBatches: sock.stats().txGsoBatches };
      } finally {
        await sock.close();
      }
    }
    case 'stats':
      return (current() as NativeTunDevice).stats();
    case 'close':
      for (const t of tuns.splice(0)) t.close();
      udp?.close();
      udp = undefined;
      return null;
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let req: Request;
  try {
    req = JSON.parse(line) as Request;
  } catch {
    emit({ event: 'error', error: `bad request line: ${line}` });
    return;
  }
  handle(req).then(
    (result) => emit({ id: req.id, ok: true, result }),
    (err: Error & { code?: string }) => emit({ id: req.id, ok: false, error: err.message, code: err.code }),
  );
});
rl.on('close', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
emit({ event: 'ready', pid: process.pid });
