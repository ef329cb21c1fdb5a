import { emptyMetaDetails, MetaType, type MeshName, type MetaDetails } from '../protocol/messages.js';
import type { MeshNode } from './node.js';

const LOOKUP_TIMEOUT_MS = 1000;
const CACHE_MS = 10_000;
const MAX_WAITING_NAMES = 256;
/** Names per update: the update travels in one datagram. */
export const MAX_PUBLISHED_NAMES = 64;

interface Waiter {
  resolve: (ips: number[]) => void;
  timer: NodeJS.Timeout;
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
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly node: MeshNode) {}

  /** Replaces the names this node serves and tells the lighthouses. */
  publish(names: readonly MeshName[]): void {
    if (names.length > MAX_PUBLISHED_NAMES) {
      this.node.log.warn({ names: names.length, published: MAX_PUBLISHED_NAMES }, 'too many container names for one update; publishing the first ones');
    }
    this.published = names.slice(0, MAX_PUBLISHED_NAMES).map((n) => ({ name: n.name.toLowerCase(), ips: [...n.ips] }));
    this.send();
    if (!this.timer && this.node.config.lighthouse.interval > 0) {
      this.timer = setInterval(() => this.send(), this.node.config.lighthouse.interval);
      this.timer.unref();
    }
  }

  resolve(name: string): Promise<number[]> {
    const key = name.toLowerCase();
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now()) return Promise.resolve(cached.ips);
    if (!this.node.lighthouseClient.hasLighthouses) return Promise.resolve([]);
    return new Promise((resolve) => {
      let list = this.waiting.get(key);
      if (!list) {
        if (this.waiting.size >= MAX_WAITING_NAMES) return resolve([]);
        list = [];
        this.waiting.set(key, list);
        this.node.lighthouseClient.sendToLighthouses(MetaType.MeshNameQuery, { ...emptyMetaDetails(), meshNames: [{ name: key, ips: [] }] });
      }
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => this.settle(key, [], false), LOOKUP_TIMEOUT_MS),
      };
      waiter.timer.unref();
      list.push(waiter);
    });
  }

  /** MeshNameReply from a lighthouse. */
  handleReply(details: MetaDetails): void {
    const answer = details.meshNames?.[0];
    if (!answer) return;
    this.settle(answer.name.toLowerCase(), answer.ips.filter((ip) => ip !== 0), true);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const key of [...this.waiting.keys()]) this.settle(key, [], false);
  }

  private settle(key: string, ips: number[], cache: boolean): void {
    if (cache) this.cache.set(key, { ips, until: Date.now() + CACHE_MS });
    if (this.cache.size > 4096) this.cache.clear();
    const list = this.waiting.get(key);
    if (!list) return;
    this.waiting.delete(key);
    for (const w of list) {
      clearTimeout(w.timer);
      w.resolve(ips);
    }
  }

  private send(): void {
    this.node.lighthouseClient.sendToLighthouses(MetaType.MeshNamesUpdate, { ...emptyMetaDetails(), vpnIp: this.node.identity.vpnIp, meshNames: this.published });
  }
}
