/**
 * In-memory stand-ins for the I/O edges so multi-node tests run without root or real sockets:
 * MemoryNetwork hands out UdpBinds that exchange datagrams inside the process, MemoryTun is a
 * TunDevice whose "kernel side" is driven by the test.
 *
 * Delivery is asynchronous like a real network: datagrams sent in one turn of the event loop are
 * delivered together on a later turn (setImmediate, or setTimeout with latencyMs), one handler
 * call per receiving bind per flush, so batching code paths are exercised.
 *
 * Buffer ownership matches the native implementations: send()/write() copy the data (the caller
 * may reuse its buffers at once); handlers receive fresh Buffers they own and may keep.
 */
import type { Datagram, Endpoint, OutgoingDatagram, UdpBind } from './udp.js';
import { checkRoute, formatRouteCidr, isPrefix6, TUN_HEADROOM, type TunDevice, type TunOptions, type TunRoute } from './tun.js';
import { ipFamily } from '../net/ip.js';
import { networkOf } from '../net/ipv4.js';

/** A datagram in flight on a MemoryNetwork. */
export interface MemoryPacket {
  from: Endpoint;
  to: Endpoint;
  data: Buffer;
}

/**
 * Called for each datagram about to be delivered, in registration order. Return the packet (or
 * undefined) to pass it on unchanged, a modified copy to rewrite it, or null to drop it.
 */
export type MemoryHook = (packet: MemoryPacket) => MemoryPacket | null | undefined;

export type TrafficVerdict = 'delivered' | 'dropped' | 'unreachable';

/** What happened to one datagram: `packet` is as delivered (after rewrites), `sent` as sent. */
export interface TrafficRecord {
  sent: MemoryPacket;
  packet: MemoryPacket | null;
  verdict: TrafficVerdict;
  /** Name of the hook that dropped it, when verdict is 'dropped'. */
  droppedBy?: string;
}

export interface MemoryNetworkOptions {
  /** Keep every TrafficRecord in `traffic` (default true). */
  record?: boolean;
  /** Delay before delivery in ms; 0 (default) delivers on the next setImmediate. */
  latencyMs?: number;
  /** Datagrams a bind without a handler queues before dropping (default 1024). */
  queueLimit?: number;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

function key(address: string, port: number): string {
  return `${address}|${port}`;
}

export class MemoryNetwork {
  readonly traffic: TrafficRecord[] = [];
  private readonly binds = new Map<string, MemoryUdpBind>();
  private readonly hooks: MemoryHook[] = [];
  private readonly listeners = new Set<(record: TrafficRecord) => void>();
  private queue: MemoryPacket[] = [];
  private scheduled = false;
  private inFlight = 0;
  private nextPort = 40000;
  private readonly record: boolean;
  private readonly latencyMs: number;
  readonly queueLimit: number;

  constructor(options: MemoryNetworkOptions = {}) {
    this.record = options.record ?? true;
    this.latencyMs = options.latencyMs ?? 0;
    this.queueLimit = options.queueLimit ?? 1024;
  }

  /** Binds `address:port` (port 0 or omitted picks a free one). Wildcard addresses receive for any address on their port. */
  bind(address: string, port = 0): MemoryUdpBind {
    if (ipFamily(address) === 0) throw new Error(`memory network: invalid address "${address}"`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`memory network: invalid port ${port}`);
    if (port === 0) {
      do port = this.nextPort++;
      while (this.binds.has(key(address, port)));
    }
    const k = key(address, port);
    if (this.binds.has(k)) throw new Error(`memory network: bind ${address}:${port}: address already in use (EADDRINUSE)`);
    const bind = new MemoryUdpBind(this, address, port);
    this.binds.set(k, bind);
    return bind;
  }

  /** Adds a hook (see MemoryHook); returns a function removing it. */
  addHook(hook: MemoryHook): () => void {
    this.hooks.push(hook);
    return () => {
      const i = this.hooks.indexOf(hook);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /** Calls `listener` for every datagram's fate; returns a function removing it. */
  onTraffic(listener: (record: TrafficRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  clearTraffic(): void {
    this.traffic.length = 0;
  }

  /** Resolves once no datagram is queued or in flight (including ones sent by handlers meanwhile). */
  async settle(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight > 0) {
      await new Promise<void>((resolve) => setTimeout(resolve, this.latencyMs > 0 ? this.latencyMs : 0));
    }
  }

  /** @internal */
  enqueue(from: Endpoint, batch: readonly OutgoingDatagram[]): number {
    for (const d of batch) {
      this.queue.push({ from: { ...from }, to: { address: d.to.address, port: d.to.port }, data: Buffer.from(d.data) });
    }
    if (!this.scheduled && this.queue.length > 0) {
      this.scheduled = true;
      this.inFlight++;
      const run = (): void => {
        this.inFlight--;
        this.flush();
      };
      if (this.latencyMs > 0) setTimeout(run, this.latencyMs);
      else setImmediate(run);
    }
    return batch.length;
  }

  /** @internal */
  unbind(bind: MemoryUdpBind): void {
    const k = key(bind.address, bind.localPort);
    if (this.binds.get(k) === bind) this.binds.delete(k);
  }

  private lookup(to: Endpoint): MemoryUdpBind | undefined {
    const exact = this.binds.get(key(to.address, to.port));
    if (exact) return exact;
    for (const w of WILDCARDS) {
      const b = this.binds.get(key(w, to.port));
      if (b) return b;
    }
    return undefined;
  }

  private flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    const batches = new Map<MemoryUdpBind, Datagram[]>();
    for (const sent of queue) {
      let packet: MemoryPacket | null = sent;
      let droppedBy: string | undefined;
      for (const hook of this.hooks.slice()) {
        const out: MemoryPacket | null | undefined = hook(packet);
        if (out === null) {
          droppedBy = hook.name || 'hook';
          packet = null;
          break;
        }
        if (out !== undefined) packet = out;
      }
      let verdict: TrafficVerdict;
      if (!packet) verdict = 'dropped';
      else {
        const target = this.lookup(packet.to);
        if (!target || target.closed) verdict = 'unreachable';
        else {
          verdict = 'delivered';
          let list = batches.get(target);
          if (!list) batches.set(target, (list = []));
          list.push({ data: Buffer.from(packet.data), from: { address: packet.from.address, port: packet.from.port } });
        }
      }
      const record: TrafficRecord = { sent, packet, verdict, ...(droppedBy ? { droppedBy } : {}) };
      if (this.record) this.traffic.push(record);
      for (const l of this.listeners) l(record);
    }
    for (const [target, list] of batches) target.deliver(list);
  }
}

export class MemoryUdpBind implements UdpBind {
  readonly kind = 'memory' as const;
  closed = false;
  private handler: ((batch: Datagram[]) => void) | undefined;
  private pending: Datagram[] = [];
  private readonly counters = { rxDatagrams: 0, rxDropped: 0, txDatagrams: 0 };

  constructor(
    private readonly network: MemoryNetwork,
    readonly address: string,
    readonly localPort: number,
  ) {}

  onDatagrams(handler: (batch: Datagram[]) => void): void {
    this.handler = handler;
    if (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      setImmediate(() => this.deliver(batch));
    }
  }

  send(batch: readonly OutgoingDatagram[]): number {
    if (this.closed) throw new Error(`memory udp ${this.address}:${this.localPort} is closed`);
    this.counters.txDatagrams += batch.length;
    return this.network.enqueue({ address: this.address, port: this.localPort }, batch);
  }

  /** @internal */
  deliver(batch: Datagram[]): void {
    if (this.closed) return;
    if (!this.handler) {
      const room = Math.max(0, this.network.queueLimit - this.pending.length);
      this.pending.push(...batch.slice(0, room));
      this.counters.rxDropped += batch.length - Math.min(room, batch.length);
      return;
    }
    this.counters.rxDatagrams += batch.length;
    this.handler(batch);
  }

  stats(): { rxDatagrams: number; rxDropped: number; txDatagrams: number } {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.network.unbind(this);
  }
}

/**
 * A TunDevice for tests: inject() plays the kernel sending packets into the tunnel, write()
 * records what the program hands back to the kernel.
 */
export class MemoryTun implements TunDevice {
  readonly name: string;
  readonly mtu: number;
  readonly headroom = TUN_HEADROOM;
  readonly address: TunOptions['address'] | undefined;
  readonly moreAddresses: NonNullable<TunOptions['moreAddresses']>;
  /** Copies of every packet passed to write(), in order. */
  readonly written: Buffer[] = [];
  /** Routes currently installed (addRoute replaces one with the same cidr and metric, like the native device). */
  readonly routes: TunRoute[] = [];
  closed = false;
  private handler: ((packets: Buffer[]) => void) | undefined;
  private pending: Buffer[][] = [];
  private readonly writeListeners = new Set<(packets: Buffer[]) => void>();

  constructor(options: Partial<TunOptions> = {}) {
    this.name = options.name ?? 'memtun0';
    this.mtu = options.mtu ?? 1300;
    this.address = options.address;
    this.moreAddresses = options.moreAddresses ?? [];
    for (const r of options.routes ?? []) this.addRoute(r);
  }

  onPackets(handler: (packets: Buffer[]) => void): void {
    this.handler = handler;
    if (this.pending.length > 0) {
      const pending = this.pending;
      this.pending = [];
      setImmediate(() => {
        for (const batch of pending) this.deliver(batch);
      });
    }
  }

  /**
   * Simulates the kernel: the packets arrive (copied) as one batch on a later turn of the loop,
   * laid out as the native device delivers them (one buffer, TUN_HEADROOM free bytes around each).
   */
  inject(packets: readonly Uint8Array[]): void {
    if (this.closed || packets.length === 0) return;
    const room = TUN_HEADROOM;
    const all = Buffer.alloc(packets.reduce((n, p) => n + room + p.length + room, 0));
    let at = 0;
    const batch = packets.map((p) => {
      all.set(p, at + room);
      const view = all.subarray(at + room, at + room + p.length);
      at += room + p.length + room;
      return view;
    });
    setImmediate(() => this.deliver(batch));
  }

  private deliver(batch: Buffer[]): void {
    if (this.closed) return;
    if (!this.handler) this.pending.push(batch);
    else this.handler(batch);
  }

  write(packets: readonly Uint8Array[]): number {
    if (this.closed) throw new Error(`tun ${this.name} is closed`);
    const copies = packets.map((p) => Buffer.from(p));
    this.written.push(...copies);
    for (const l of this.writeListeners) l(copies);
    return copies.length;
  }

  /** Calls `listener` with each write() batch; returns a function removing it. */
  onWritten(listener: (packets: Buffer[]) => void): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  /** Resolves with the packets of the next write() call. */
  nextWritten(): Promise<Buffer[]> {
    return new Promise((resolve) => {
      const off = this.onWritten((packets) => {
        off();
        resolve(packets);
      });
    });
  }

  /** Returns and forgets the packets written so far. */
  takeWritten(): Buffer[] {
    return this.written.splice(0, this.written.length);
  }

  addRoute(route: TunRoute): void {
    if (this.closed) throw new Error(`tun ${this.name} is closed`);
    // The same checks as the kernel device, so that in-memory tests catch what it would refuse.
    checkRoute(route);
    const i = this.findRoute(route);
    const copy: TunRoute = { ...route, cidr: { ...route.cidr } };
    if (i >= 0) this.routes[i] = copy;
    else this.routes.push(copy);
  }

  removeRoute(route: TunRoute): void {
    if (this.closed) throw new Error(`tun ${this.name} is closed`);
    const i = this.findRoute(route, route.metric === undefined);
    if (i < 0) throw new Error(`tun: remove route ${formatRouteCidr(route.cidr)} dev ${this.name}: No such process (ESRCH)`);
    this.routes.splice(i, 1);
  }

  private findRoute(route: TunRoute, anyMetric = false): number {
    const net = routeNetwork(route.cidr);
    return this.routes.findIndex(
      (r) => r.cidr.bits === route.cidr.bits && routeNetwork(r.cidr) === net && (anyMetric || (r.metric ?? 0) === (route.metric ?? 0)),
    );
  }

  close(): void {
    this.closed = true;
    this.pending = [];
    this.routes.length = 0;
  }
}

/** A route's network as text, comparable across both families. */
function routeNetwork(c: TunRoute['cidr']): string {
  return isPrefix6(c) ? formatRouteCidr(c) : String(networkOf({ ip: Number(c.ip), bits: c.bits }));
}
