/**
 * Nebula's allow lists (lighthouse.remote_allow_list, remote_allow_ranges, local_allow_list): CIDR
 * rules of both families where the most specific match decides, plus interface-name rules for the
 * local list.
 */
import { parseIpNumber } from './ip.js';
import type { Cidr } from './ipv4.js';

/** One CIDR → allow/deny entry; `ip` is the network as a bigint (32 bits for IPv4, 128 for IPv6). */
export interface AllowListRule {
  cidr: string;
  family: 4 | 6;
  ip: bigint;
  bits: number;
  allow: boolean;
  /** True for the default Nebula adds (0.0.0.0/0, ::/0) when all explicit rules share one value. */
  implicit: boolean;
}

/** Nebula allow list: most specific matching rule wins; always has a default for both families. */
export interface AllowList {
  rules: AllowListRule[];
}

export interface InterfaceRule {
  /** The regex as written; it must match the whole interface name. */
  pattern: string;
  regex: RegExp;
  allow: boolean;
}

export interface LocalAllowList extends AllowList {
  /** Interface name rules (all of the same polarity); empty = every interface. */
  interfaces: InterfaceRule[];
}

export interface RemoteAllowRange {
  /** Inside (VPN) range the allow list applies to. */
  inside: Cidr;
  allowList: AllowList;
}

/** A set of rules Nebula refuses. */
export class AllowListError extends Error {}

/**
 * Completes explicit rules the way Nebula does: a family without a /0 rule gets one that allows
 * what its rules do not mention (everything when it has none). Throws AllowListError when a
 * family mixes true and false rules without a /0 rule.
 */
export function completeAllowList(rules: AllowListRule[]): AllowList {
  const all = [...rules];
  for (const family of [4, 6] as const) {
    const mine = rules.filter((r) => r.family === family);
    if (mine.some((r) => r.bits === 0)) continue;
    const cidr = family === 4 ? '0.0.0.0/0' : '::/0';
    if (new Set(mine.map((r) => r.allow)).size > 1) throw new AllowListError(`contains both true and false rules but no default for ${cidr}`);
    const allow = mine.length === 0 ? true : !mine[0]!.allow;
    all.push({ cidr, family, ip: 0n, bits: 0, allow, implicit: true });
  }
  return { rules: all };
}

/** The regex for an interface-name pattern, which must match the whole name; null when it is not a valid regex. */
export function interfaceRegex(pattern: string): RegExp | null {
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch {
    return null;
  }
}

/** Nebula's AllowList.Allow: the most specific matching rule decides; null list allows all. */
export function allowListAllows(list: AllowList | null, address: string | number): boolean {
  if (!list) return true;
  const a = parseIpNumber(address);
  if (!a) return false;
  let best: AllowListRule | null = null;
  for (const r of list.rules) {
    if (r.family !== a.family) continue;
    const width = a.family === 4 ? 32 : 128;
    const shift = BigInt(width - r.bits);
    if (r.bits === 0 || a.value >> shift === r.ip >> shift) {
      if (!best || r.bits > best.bits) best = r;
    }
  }
  return best ? best.allow : true;
}

/** Nebula's LocalAllowList.AllowName. */
export function localAllowListAllowsName(list: LocalAllowList | null, name: string): boolean {
  if (!list || list.interfaces.length === 0) return true;
  for (const r of list.interfaces) if (r.regex.test(name)) return r.allow;
  return !list.interfaces[0]!.allow;
}
