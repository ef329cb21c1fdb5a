import { cidrContains, maskFromBits, type Cidr } from './ipv4.js';

/** IPv4 longest-prefix match over a handful of prefix lengths (one map per length in use). */
export class PrefixTable<V> {
  private readonly byBits = new Map<number, Map<number, V>>();
  private lengths: number[] = [];

  set(cidr: Cidr, value: V): void {
    let table = this.byBits.get(cidr.bits);
    if (!table) {
      table = new Map();
      this.byBits.set(cidr.bits, table);
      this.lengths = [...this.byBits.keys()].sort((a, b) => b - a);
    }
    table.set((cidr.ip & maskFromBits(cidr.bits)) >>> 0, value);
  }

  delete(cidr: Cidr): void {
    const table = this.byBits.get(cidr.bits);
    if (!table) return;
    table.delete((cidr.ip & maskFromBits(cidr.bits)) >>> 0);
    if (table.size === 0) {
      this.byBits.delete(cidr.bits);
      this.lengths = [...this.byBits.keys()].sort((a, b) => b - a);
    }
  }

  /** The value of the most specific prefix containing `ip`. */
  lookup(ip: number): V | undefined {
    for (const bits of this.lengths) {
      const v = this.byBits.get(bits)!.get((ip & maskFromBits(bits)) >>> 0);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** Deletes every entry whose value matches. */
  deleteWhere(predicate: (value: V, cidr: Cidr) => boolean): void {
    for (const [bits, table] of [...this.byBits]) {
      for (const [ip, v] of [...table]) if (predicate(v, { ip, bits })) this.delete({ ip, bits });
    }
  }

  entries(): Array<[Cidr, V]> {
    const out: Array<[Cidr, V]> = [];
    for (const [bits, table] of this.byBits) for (const [ip, v] of table) out.push([{ ip, bits }, v]);
    return out;
  }
}

export function withinAny(ranges: readonly Cidr[], cidr: Cidr): boolean {
  return ranges.some((r) => r.bits <= cidr.bits && cidrContains(r, cidr.ip));
}
