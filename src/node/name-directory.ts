import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { emptyMetaDetails, MAX_MESH_NAME_IPS, MAX_MESH_NAME_LENGTH, MetaType, type MeshName, type MetaDetails } from '../protocol/messages.js';
import type { Timer, Timers } from './timers.js';
import type { VpnAddr } from '../net/ip.js';

/** What the name directory needs from its node. */
export interface NameDirectoryDeps {
  readonly log: Logger;
  readonly timers: Timers;
  vpnIp(): number;
  /** lighthouse.interval in ms (0: no periodic checks). */
  interval(): number;
  hasLighthouses(): boolean;
  sendToLighthouses(type: number, details: MetaDetails): void;
  sendToLighthouse(lighthouse: VpnAddr, type: number, details: MetaDetails): void;
}

const LOOKUP_TIMEOUT_MS = 1000;
/** Short, so that a replica that stops leaves the answers within seconds. */
const CACHE_MS = 2000;
const MAX_WAITING_NAMES = 256;
/**
 * Encoded bytes of names per datagram: with the meta header, the Nebula header and the AEAD tag the
 * datagram stays well under a 1500-byte underlay MTU.
 */
const CHUNK_BYTES = 1100;

/**
 * An upper bound of a MeshName's encoded size: entry tag and length, name tag, length and bytes,
 * the packed addresses' tag and length, and at most 5 bytes per address.
 */
function encodedSize(n: MeshName): number {
  return 3 + 3 + Buffer.byteLength(n.name) + 3 + 5 * n.ips.length;
}

/** Splits entries into chunks of at most CHUNK_BYTES; always at least one (possibly empty) chunk. */
export function chunkNames(names: readonly MeshName[]): MeshName[][] {
  const chunks: MeshName[][] = [[]];
  let size = 0;
  for (const n of names) {
    const s = encodedSize(n);
    if (size + s > CHUNK_BYTES && chunks[chunks.length - 1]!.length > 0) {
      chunks.push([]);
      size = 0;
    }
    chunks[chunks.length - 1]!.push(n);
    size += s;
  }
  return chunks;
}

/** One name table from publish input: lower-case names, each name's addresses merged, sorted, deduplicated and capped. */
function tableOf(names: readonly MeshName[], log: Logger): Map<string, number[]> {
  const merged = new Map<string, Set<number>>();
  for (const n of names) {
    const name = n.name.toLowerCase();
    if (name.length === 0 || name.length > MAX_MESH_NAME_LENGTH) {
      log.warn({ name }, 'container name not published: it must have 1 to 127 characters');
      continue;
    }
    let ips = merged.get(name);
    if (!ips) merged.set(name, (ips = new Set()));
    for (const ip of n.ips) ips.add(ip >>> 0);
  }
  const table = new Map<string, number[]>();
  for (const [name, ips] of merged) {
    const sorted = [...ips].sort((a, b) => a - b);
    if (sorted.length > MAX_MESH_NAME_IPS) log.warn({ name, addresses: sorted.length, published: MAX_MESH_NAME_IPS }, 'too many addresses for one name; publishing the first ones');
    table.set(name, sorted.slice(0, MAX_MESH_NAME_IPS));
  }
  return table;
}

function sameIps(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((ip, i) => ip === b[i]);
}

interface Waiter {
  resolve: (ips: number[]) => void;
  timer: Timer;
}

/**
 * Container and service names across the mesh, kept by the lighthouses. This node keeps a table of
 * the names it serves (name → its addresses here) under an epoch (random, new per process) and a
 * version (one more per change). A change travels as MeshNamesDelta chunks carrying only the names
 * that changed; every lighthouse.interval one MeshNamesCheck announces epoch and version, and a
 * lighthouse whose copy differs (it restarted, or lost a datagram) answers MeshNamesResync, which
 * gets it the whole table as MeshNamesSnapshot chunks. Lookups are MeshNameQuery; the first answer wins.
 */
export class NameDirectory {
  private table = new Map<string, number[]>();
  // randomBytes, not randomInt: randomInt draws from a cache inside node:crypto that a start-up
  // snapshot built after a use would hold, the same in every process started from it.
  private readonly epoch = randomBytes(4).readUInt32BE(0) || 1;
  private version = 0;
  private readonly cache = new Map<string, { ips: number[]; until: number }>();
  private readonly waiting = new Map<string, Waiter[]>();
  private timer: Timer | null = null;

  constructor(private readonly deps: NameDirectoryDeps) {}

  /** Sets the names this node serves (all of them) and tells the lighthouses what changed. */
  publish(names: readonly MeshName[]): void {
    const next = tableOf(names, this.deps.log);
    const changed: MeshName[] = [];
    for (const [name, ips] of next) {
      const before = this.table.get(name);
      if (!before || !sameIps(before, ips)) changed.push({ name, ips });
    }
    for (const name of this.table.keys()) if (!next.has(name)) changed.push({ name, ips: [] });
    const first = this.version === 0;
    this.table = next;
    if (changed.length > 0 || first) {
      this.version++;
      // The first table goes out whole: no lighthouse holds anything of this epoch yet.
      if (first) this.sendChunks(MetaType.MeshNamesSnapshot, this.entries(), (type, d) => this.deps.sendToLighthouses(type, d));
      else this.sendChunks(MetaType.MeshNamesDelta, changed, (type, d) => this.deps.sendToLighthouses(type, d));
    }
    const interval = this.deps.interval();
    if (!this.timer && interval > 0) this.timer = this.deps.timers.every(interval, () => this.check());
  }

  /** The names this node serves now (`mesh status`, tests). */
  get publishedNames(): readonly MeshName[] {
    return [...this.table].map(([name, ips]) => ({ name, ips }));
  }

  resolve(name: string): Promise<number[]> {
    const key = name.toLowerCase();
    const cached = this.cache.get(key);
    if (cached && cached.until > this.deps.timers.now()) return Promise.resolve(cached.ips);
    if (!this.deps.hasLighthouses()) return Promise.resolve([]);
    return new Promise((resolve) => {
      let list = this.waiting.get(key);
      if (!list) {
        if (this.waiting.size >= MAX_WAITING_NAMES) return resolve([]);
        list = [];
        this.waiting.set(key, list);
        this.deps.sendToLighthouses(MetaType.MeshNameQuery, { ...emptyMetaDetails(), meshNames: [{ name: key, ips: [] }] });
      }
      list.push({ resolve, timer: this.deps.timers.after(LOOKUP_TIMEOUT_MS, () => this.settle(key, [], false)) });
    });
  }

  /** MeshNameReply from a lighthouse. */
  handleReply(details: MetaDetails): void {
    const answer = details.meshNames?.[0];
    if (!answer) return;
    this.settle(answer.name.toLowerCase(), answer.ips.filter((ip) => ip !== 0), true);
  }

  /** MeshNamesResync from a lighthouse: it gets the whole table. */
  handleResync(lighthouse: VpnAddr): void {
    if (this.version === 0) return; // nothing published yet: the first publish sends a snapshot anyway
    this.sendChunks(MetaType.MeshNamesSnapshot, this.entries(), (type, d) => this.deps.sendToLighthouse(lighthouse, type, d));
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    for (const key of [...this.waiting.keys()]) this.settle(key, [], false);
  }

  private entries(): MeshName[] {
    return [...this.table].map(([name, ips]) => ({ name, ips }));
  }

  private check(): void {
    this.deps.sendToLighthouses(MetaType.MeshNamesCheck, { ...emptyMetaDetails(), vpnIp: this.deps.vpnIp(), meshNameTable: { epoch: this.epoch, version: this.version, chunk: 0, chunks: 0 } });
  }

  private sendChunks(type: number, names: readonly MeshName[], send: (type: number, details: MetaDetails) => void): void {
    const chunks = chunkNames(names);
    chunks.forEach((meshNames, chunk) => {
      send(type, { ...emptyMetaDetails(), vpnIp: this.deps.vpnIp(), meshNames, meshNameTable: { epoch: this.epoch, version: this.version, chunk, chunks: chunks.length } });
    });
  }

  private settle(key: string, ips: number[], cache: boolean): void {
    if (cache) this.cache.set(key, { ips, until: this.deps.timers.now() + CACHE_MS });
    if (this.cache.size > 4096) this.cache.clear();
    const list = this.waiting.get(key);
    if (!list) return;
    this.waiting.delete(key);
    for (const w of list) {
      w.timer.cancel();
      w.resolve(ips);
    }
  }
}
