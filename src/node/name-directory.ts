import type { Logger } from 'pino';
import { emptyMetaDetails, MetaType, type MeshName, type MetaDetails } from '../protocol/messages.js';
import type { Timer, Timers } from './timers.js';

/** What the name directory needs from its node. */
export interface NameDirectoryDeps {
  readonly log: Logger;
  readonly timers: Timers;
  vpnIp(): number;
  /** lighthouse.interval in ms (0: no periodic updates). */
  interval(): number;
  hasLighthouses(): boolean;
  sendToLighthouses(type: number, details: MetaDetails): void;
}

const LOOKUP_TIMEOUT_MS = 1000;
const CACHE_MS = 10_000;
const MAX_WAITING_NAMES = 256;
/** Names per update: the update travels in one datagram. */
export const MAX_PUBLISHED_NAMES = 64;

interface Waiter {
  resolve: (ips: number[]) => void;
  timer: Timer;
}

/**
 * Container names across the mesh, kept by the lighthouses: this node publishes the names it
 * serves (MeshNamesUpdate, replacing its previous list, again every lighthouse.interval so that a
 * restarted lighthouse relearns them) and asks for others (MeshNameQuery); the first answer wins.
 */
export class NameDirectory {
  private published: MeshName[] = [];
  private readonly cache = new Map<string, { ips: number[]; until: number }>();
  private readonly waiting = new Map<string, Waiter[]>();
  private timer: Timer | null = null;

  constructor(private readonly deps: NameDirectoryDeps) {}

  /** The names this node serves (`mesh status`). */
  get publishedNames(): readonly MeshName[] {
    return this.published;
  }

  /** Replaces the names this node serves and tells the lighthouses. */
  publish(names: readonly MeshName[]): void {
    if (names.length > MAX_PUBLISHED_NAMES) {
      this.deps.log.warn({ names: names.length, published: MAX_PUBLISHED_NAMES }, 'too many container names for one update; publishing the first ones');
    }
    this.published = names.slice(0, MAX_PUBLISHED_NAMES).map((n) => ({ name: n.name.toLowerCase(), ips: [...n.ips] }));
    this.send();
    const interval = this.deps.interval();
    if (!this.timer && interval > 0) this.timer = this.deps.timers.every(interval, () => this.send());
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

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    for (const key of [...this.waiting.keys()]) this.settle(key, [], false);
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

  private send(): void {
    this.deps.sendToLighthouses(MetaType.MeshNamesUpdate, { ...emptyMetaDetails(), vpnIp: this.deps.vpnIp(), meshNames: this.published });
  }
}
