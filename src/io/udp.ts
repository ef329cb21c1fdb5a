/**
 * The UDP side of the data path: a bound socket that delivers received datagrams in batches and
 * sends batches.
 *
 * Two implementations behind one interface:
 *  - native (native/src/udp.cc): recvmmsg up to `batch` datagrams (default 64, buffers of
 *    max(9001, maxDatagram) bytes, truncated datagrams are dropped and counted) per wake-up of
 *    the libuv loop, one handler call per recvmmsg; send() is one (or a few) sendmmsg calls.
 *    With `offload` (default): UDP GSO sends equal-sized datagrams to one destination as one
 *    message, UDP GRO receives runs of datagrams as one buffer (split again natively); the
 *    handler and send() still see single datagrams. GSO the kernel refuses is turned off for the
 *    socket and reported once to `onOffloadFallback`.
 *  - node:dgram fallback when the addon is not built (or impl: 'dgram'): one handler call per
 *    datagram, send() is one dgram send per datagram.
 *
 * Addresses: textual IPv4 ("1.2.3.4") or IPv6. A dual-stack socket bound to "::" reports IPv4
 * peers as plain IPv4 (not "::ffff:1.2.3.4") and accepts plain IPv4 destinations.
 *
 * Buffer ownership: datagrams' `data` Buffers are never reused by the bind; the handler owns them.
 * The datagrams of one native batch are views into one shared ArrayBuffer, so keeping one keeps
 * the batch's memory alive; copy what you keep for long. send() does not retain the data: the
 * caller may reuse its buffers as soon as send() returns (the native path sends synchronously,
 * the dgram path copies). Sends that would block (full socket buffer) are dropped, like a full
 * kernel queue.
 */
import dgram from 'node:dgram';
import type { Endpoint } from '../net/endpoint.js';
import { ipFamily } from '../net/ip.js';
import { readSocketDrops } from './kernel-counters.js';
import { splitBatch, tryLoadNative, type NativeFastPath, type NativeUdp, type NativeUdpStats } from './native.js';

export type { Endpoint };

export interface Datagram {
  data: Buffer;
  from: Endpoint;
}

export interface OutgoingDatagram {
  data: Uint8Array;
  to: Endpoint;
}

export interface UdpBind {
  readonly localPort: number;
  /** Kernel offloads in use (native: "gso", "gro"); absent or [] when none. */
  readonly offloads?: readonly string[];
  /** One call per received batch; setting a handler starts reading, a later call replaces it. */
  onDatagrams(handler: (batch: Datagram[]) => void): void;
  /** A socket whose reads fail for good (the native one, on an error every read repeats) reports it here once. */
  onError?(handler: (err: Error) => void): void;
  send(batch: readonly OutgoingDatagram[]): void;
  /** The native socket only: datagrams received go through the fast path first (null: detach). */
  attachFastPath?(fastPath: NativeFastPath | null): void;
  /** Datagrams the kernel dropped at this socket since it was opened, nearly all for a full receive buffer. */
  kernelDrops?(): number;
  /** What this socket dropped itself since it was opened (see UdpDrops). */
  drops?(): UdpDrops;
  close(): Promise<void>;
}

export interface UdpOptions {
  /** Numeric bind address: "0.0.0.0", "::" (dual stack), or a specific address. */
  host: string;
  /** 0 picks a free port (see localPort). */
  port: number;
  /** SO_RCVBUF in bytes (SO_RCVBUFFORCE when permitted). */
  readBuffer?: number;
  /** SO_SNDBUF in bytes (SO_SNDBUFFORCE when permitted). */
  writeBuffer?: number;
  /** Max datagrams per receive batch (native only), default 64. */
  batch?: number;
  /** Receive buffer per datagram (native only), default 9216, at least 9001. */
  maxDatagram?: number;
  /** 'auto' (default): native when the addon is built, else dgram. */
  impl?: 'auto' | 'native' | 'dgram';
  /** UDP GSO and GRO (native only), default true. */
  offload?: boolean;
  /** Called once if the kernel refuses GSO on this socket (it then sends one datagram per message). */
  onOffloadFallback?: (reason: string) => void;
}

/**
 * A socket's own drops: sends refused for a full send buffer or device queue (EAGAIN, ENOBUFS), sends that failed
 * otherwise (no route, EPERM from a firewall rule, ...), and received datagrams longer than the
 * receive buffer (native only).
 */
export interface UdpDrops {
  sendBufferFull: number;
  sendErrors: number;
  receiveTruncated: number;
}

export interface UdpStats {
  rxDatagrams: number;
  txDatagrams: number;
  txDropped: number;
  txErrors: number;
}

export class NativeUdpBind implements UdpBind {
  readonly localPort: number;
  readonly kind = 'native' as const;
  private handler: ((batch: Datagram[]) => void) | undefined;
  private errorHandler: ((err: Error) => void) | undefined;
  private started = false;
  private closed = false;
  // Reused argument arrays for send(); cleared after each call so no data is retained.
  private readonly sendData: Uint8Array[] = [];
  private readonly sendAddr: string[] = [];
  private readonly sendPort: number[] = [];

  private gsoActive: boolean;

  constructor(
    private readonly sock: NativeUdp,
    private readonly onOffloadFallback?: (reason: string) => void,
  ) {
    this.localPort = sock.localPort;
    this.gsoActive = sock.offloads.includes('gso');
  }

  /** Offloads in use: any of "gso", "gro". */
  get offloads(): readonly string[] {
    return this.sock.offloads;
  }

  onDatagrams(handler: (batch: Datagram[]) => void): void {
    this.handler = handler;
    if (this.started || this.closed) return;
    this.started = true;
    this.sock.start((batch, count, addresses, error) => {
      if (error) {
        if (this.errorHandler) return this.errorHandler(error);
        throw error;
      }
      if (!batch || count === 0) return;
      const { views, header } = splitBatch(batch, count, 3);
      const out: Datagram[] = new Array(count);
      for (let i = 0; i < count; i++) {
        out[i] = { data: views[i]!, from: { address: addresses[header[i * 3 + 2]!]!, port: header[i * 3 + 1]! } };
      }
      this.handler?.(out);
    });
  }

  onError(handler: (err: Error) => void): void {
    this.errorHandler = handler;
  }

  attachFastPath(fastPath: NativeFastPath | null): void {
    if (!this.closed) this.sock.setFastPath(fastPath);
  }

  send(batch: readonly OutgoingDatagram[]): number {
    if (this.closed) throw new Error('udp bind is closed');
    const n = batch.length;
    if (n === 0) return 0;
    const { sendData, sendAddr, sendPort } = this;
    sendData.length = sendAddr.length = sendPort.length = n;
    for (let i = 0; i < n; i++) {
      const d = batch[i]!;
      sendData[i] = d.data;
      sendAddr[i] = d.to.address;
      sendPort[i] = d.to.port;
    }
    try {
      return this.sock.send(sendData, sendAddr, sendPort);
    } finally {
      sendData.length = sendAddr.length = sendPort.length = 0;
      if (this.gsoActive && this.sock.gsoError !== null) {
        this.gsoActive = false;
        this.onOffloadFallback?.(`UDP GSO refused by the kernel (${this.sock.gsoError}); sending one datagram per message`);
      }
    }
  }

  stats(): NativeUdpStats {
    return this.sock.stats();
  }

  kernelDrops(): number {
    return readSocketDrops(this.localPort);
  }

  drops(): UdpDrops {
    const s = this.sock.stats();
    return { sendBufferFull: s.txDropped, sendErrors: s.txErrors, receiveTruncated: s.rxTruncated };
  }

  unref(): void {
    this.sock.unref();
  }

  ref(): void {
    this.sock.ref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }
}

const MAPPED = '::ffff:';

export class DgramUdpBind implements UdpBind {
  readonly kind = 'dgram' as const;
  private handler: ((batch: Datagram[]) => void) | undefined;
  private closed = false;
  private readonly counters = { rxDatagrams: 0, txDatagrams: 0, txDropped: 0, txErrors: 0 };

  constructor(
    private readonly socket: dgram.Socket,
    readonly localPort: number,
    private readonly v6: boolean,
  ) {
    socket.on('message', (msg, rinfo) => {
      this.counters.rxDatagrams++;
      let address = rinfo.address;
      if (address.startsWith(MAPPED) && ipFamily(address.slice(MAPPED.length)) === 4) address = address.slice(MAPPED.length);
      this.handler?.([{ data: msg, from: { address, port: rinfo.port } }]);
    });
    // Send errors arrive asynchronously (e.g. EHOSTUNREACH); count them, like the native path.
    socket.on('error', () => {
      this.counters.txErrors++;
    });
  }

  onDatagrams(handler: (batch: Datagram[]) => void): void {
    this.handler = handler;
  }

  send(batch: readonly OutgoingDatagram[]): number {
    if (this.closed) throw new Error('udp bind is closed');
    let sent = 0;
    for (const d of batch) {
      let address = d.to.address;
      const family = ipFamily(address);
      if (family === 0 || (family === 6 && !this.v6)) {
        this.counters.txErrors++;
        continue;
      }
      if (family === 4 && this.v6) address = MAPPED + address;
      this.socket.send(Buffer.from(d.data), d.to.port, address, (err) => {
        if (err) this.counters.txErrors++;
      });
      sent++;
    }
    this.counters.txDatagrams += sent;
    return sent;
  }

  stats(): UdpStats {
    return { ...this.counters };
  }

  kernelDrops(): number {
    return readSocketDrops(this.localPort);
  }

  drops(): UdpDrops {
    return { sendBufferFull: this.counters.txDropped, sendErrors: this.counters.txErrors, receiveTruncated: 0 };
  }

  unref(): void {
    this.socket.unref();
  }

  ref(): void {
    this.socket.ref();
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

async function bindDgram(options: UdpOptions): Promise<DgramUdpBind> {
  const host = stripBrackets(options.host);
  const v6 = ipFamily(host) === 6;
  const socket = dgram.createSocket({
    type: v6 ? 'udp6' : 'udp4',
    ipv6Only: false,
    ...(options.readBuffer ? { recvBufferSize: options.readBuffer } : {}),
    ...(options.writeBuffer ? { sendBufferSize: options.writeBuffer } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(new Error(`udp: bind ${options.host}:${options.port}: ${err.message}`, { cause: err }));
    };
    socket.once('error', onError);
    socket.bind({ address: host, port: options.port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  return new DgramUdpBind(socket, socket.address().port, v6);
}

/** Binds a UDP socket: native batched (recvmmsg/sendmmsg) when the addon is built, else node:dgram. */
export async function bindUdp(options: UdpOptions): Promise<UdpBind & (NativeUdpBind | DgramUdpBind)> {
  const impl = options.impl ?? (process.env.MESH_UDP_IMPL as UdpOptions['impl']) ?? 'auto';
  if (impl !== 'dgram') {
    const Udp = tryLoadNative()?.Udp;
    if (Udp) {
      const host = stripBrackets(options.host);
      if (ipFamily(host) === 0) throw new Error(`udp: invalid bind address "${options.host}" (need a numeric IPv4 or IPv6 address)`);
      const sock = new Udp(host, options.port, options.readBuffer ?? 0, options.writeBuffer ?? 0, options.batch ?? 64, options.maxDatagram ?? 9216, options.offload ?? true);
      return new NativeUdpBind(sock, options.onOffloadFallback);
    }
    if (impl === 'native') throw new Error('udp: native addon unavailable (run "npm install")');
  }
  return bindDgram(options);
}
