/**
 * firewall: the conntrack timeouts and the inbound/outbound rule tables, as Nebula 1.6 reads them.
 * A rule allows when port AND proto AND (ca_sha OR ca_name, when given) AND local_cidr (when given)
 * AND (host OR groups OR cidr) match; ../firewall.ts applies the rules. cidr and local_cidr take
 * IPv4 and IPv6 prefixes (Nebula 1.10).
 */
import { showValue } from '../../errors.js';
import { type IpPrefix, parseIpPrefix } from '../../net/ip.js';
import { duration, field, type Field, type FieldValue, int, laterNebula, mapping, section, unsupported } from './schema.js';
import { isAbsent, isMapping, keyError } from './values.js';

/** `port: any` / `0`. */
export const PORT_ANY = 0;
/** `port: fragment`: second and later fragments. */
export const PORT_FRAGMENT = -1;

export const DEFAULT_MAX_CONNECTIONS = 100_000;

const PROTOS = ['any', 'tcp', 'udp', 'icmp'] as const;
export type FirewallProto = (typeof PROTOS)[number];

/** One parsed rule of firewall.inbound / firewall.outbound. */
export interface FirewallRule {
  /** PORT_ANY..PORT_ANY for any, PORT_FRAGMENT..PORT_FRAGMENT for fragments, else 1..65535 range. */
  startPort: number;
  endPort: number;
  proto: FirewallProto;
  /** Cert name, "any", or null when not given. */
  host: string | null;
  /** `group` (as a one-element list) or `groups`; all must be in the peer cert. null when not given. */
  groups: string[] | null;
  /** The peer's (remote) address must be in it; IPv4 or IPv6, host bits cleared. */
  cidr: IpPrefix | null;
  /** Our (local) address must be in it; null matches every local address. */
  localCidr: IpPrefix | null;
  caName: string | null;
  caSha: string | null;
  /** Where the rule came from, e.g. "firewall.inbound[1]" (for messages). */
  key: string;
}

/** Nebula's fmt.Sprintf("%v") for a rule value; "" means absent. */
function scalarText(value: unknown, path: string): string {
  if (isAbsent(value)) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw keyError(path, `expected a single value, got ${Array.isArray(value) ? 'a list' : 'a mapping'}`);
}

/** Parses a port/code value: any, 0, a number, a range "a-b", or fragment. */
function parsePort(text: string, path: string): { startPort: number; endPort: number } {
  const s = text.trim();
  if (s === 'any') return { startPort: PORT_ANY, endPort: PORT_ANY };
  if (s === 'fragment') return { startPort: PORT_FRAGMENT, endPort: PORT_FRAGMENT };
  const num = (t: string, what: string): number => {
    const u = t.trim();
    if (!/^\d{1,5}$/.test(u) || Number(u) > 65535) {
      throw keyError(path, `expected any, fragment, a port 0-65535 or a range like 200-901; ${what} ${showValue(t)} is not a port`);
    }
    return Number(u);
  };
  if (s.includes('-')) {
    const dash = s.indexOf('-');
    const start = num(s.slice(0, dash), 'range start');
    const end = num(s.slice(dash + 1), 'range end');
    if (start === PORT_ANY) return { startPort: PORT_ANY, endPort: PORT_ANY }; // Nebula: a range from 0 is any
    if (start > end) throw keyError(path, `range start ${start} is greater than range end ${end}`);
    return { startPort: start, endPort: end };
  }
  if (s === '') throw keyError(path, 'expected any, fragment, a port 0-65535 or a range like 200-901, got ""');
  const p = num(s, 'value');
  return { startPort: p, endPort: p };
}

/** A rule value as text; "" when absent. */
const ruleValue = (key: string): Field<string> => field(key, scalarText);

/** One group; a list of one is accepted (with a warning), as Nebula does. */
const group = field('group', (value, path, warnings) => {
  if (!Array.isArray(value)) return scalarText(value, path);
  if (value.length > 1) throw keyError(path, 'should be a single value; use groups for a list (all must match)');
  warnings.add(path, 'was a list with a single value, using that value');
  return scalarText(value[0], path);
});

/** Groups that must all be in the peer cert; one value is a list of one. */
const groups = field('groups', (value, path): string[] => {
  if (isAbsent(value)) return [];
  if (Array.isArray(value)) return value.map((g, j) => scalarText(g, `${path}[${j}]`));
  return [scalarText(value, path)];
});

/** The prefix (host bits cleared), or null when not given. */
function parseRuleCidr(written: string, value: unknown, path: string): IpPrefix | null {
  if (written === '') return null;
  const prefix = parseIpPrefix(written.trim());
  if (prefix === null) throw keyError(path, `expected a CIDR like 10.0.0.0/8 or fd00::/64 (0.0.0.0/0 or ::/0 = any), got ${showValue(value)}`);
  return prefix;
}

const NO_PEER_MATCH = 'at least one of host, group, groups, cidr, ca_name, or ca_sha must be provided';

// The fields only take the values as text; finish checks them together, port first.
const rule = mapping(
  {
    port: ruleValue('port'),
    code: ruleValue('code'),
    proto: ruleValue('proto'),
    host: ruleValue('host'),
    group,
    groups,
    cidr: ruleValue('cidr'),
    localCidr: ruleValue('local_cidr'),
    caName: ruleValue('ca_name'),
    caSha: ruleValue('ca_sha'),
  },
  {
    unknownKey: 'unknown rule key, ignored',
    finish: (r, _warnings, raw, path): FirewallRule => {
      if (r.port !== '' && r.code !== '') throw keyError(path, 'only one of port or code should be provided');
      if (r.port === '' && r.code === '') throw keyError(`${path}.port`, 'required (any, a number, a range like 200-901, or fragment)');
      const ports = r.code !== '' ? parsePort(r.code, `${path}.code`) : parsePort(r.port, `${path}.port`);
      if (!(PROTOS as readonly string[]).includes(r.proto)) {
        throw keyError(`${path}.proto`, `expected one of ${PROTOS.join(', ')}, got ${showValue(raw.proto ?? '')}`);
      }
      if (r.group !== '' && r.groups.length > 0) throw keyError(path, 'only one of group or groups should be defined, both provided');
      const groups = r.group !== '' ? [r.group] : r.groups;
      const cidr = parseRuleCidr(r.cidr, raw.cidr, `${path}.cidr`);
      if (r.host === '' && groups.length === 0 && cidr === null && r.caName === '' && r.caSha === '') throw keyError(path, NO_PEER_MATCH);
      return {
        ...ports,
        proto: r.proto as FirewallProto,
        host: r.host === '' ? null : r.host,
        groups: groups.length > 0 ? groups : null,
        cidr,
        localCidr: parseRuleCidr(r.localCidr, raw.local_cidr, `${path}.local_cidr`),
        caName: r.caName === '' ? null : r.caName,
        caSha: r.caSha === '' ? null : r.caSha,
        key: path,
      };
    },
  },
);

/** A rule table; rule keys it does not know are warnings, errors name the rule ("firewall.inbound[1].port"). */
function rules(key: string): Field<FirewallRule[]> {
  return field(key, (value, path, warnings) => {
    if (isAbsent(value)) return [];
    if (!Array.isArray(value)) throw keyError(path, `expected a list of rules, got ${typeof value === 'object' ? 'a mapping' : showValue(value)}`);
    return value.map((item, i) => {
      const rulePath = `${path}[${i}]`;
      if (!isMapping(item)) throw keyError(rulePath, `expected a rule mapping (port, proto, host/group/groups/cidr/ca_name/ca_sha), got ${showValue(item)}`);
      return rule(item, rulePath, warnings);
    });
  });
}

export const firewallSection = section(
  'firewall',
  {
    conntrack: section(
      'conntrack',
      {
        tcpTimeout: duration('tcp_timeout', 12 * 60_000, { positive: true }),
        udpTimeout: duration('udp_timeout', 3 * 60_000, { positive: true }),
        defaultTimeout: duration('default_timeout', 10 * 60_000, { positive: true }),
        /** mesh extension: bound on tracked flows (Nebula 1.6 has no bound). */
        maxConnections: int('max_connections', DEFAULT_MAX_CONNECTIONS, { min: 1 }),
      },
      { ignored: { routine_cache_timeout: unsupported('mesh has a single conntrack table') } },
    ),
    inbound: rules('inbound'),
    outbound: rules('outbound'),
  },
  { ignored: { inbound_action: laterNebula('1.7'), outbound_action: laterNebula('1.7'), default_local_cidr_any: laterNebula('1.9') } },
);

export type FirewallConfig = FieldValue<typeof firewallSection>;

/** Checks a firewall config built in code rather than read from a file; throws UserError naming the bad key. */
export function checkFirewallConfig(fw: FirewallConfig): void {
  const ct = fw.conntrack;
  for (const [k, v] of [
    ['tcp_timeout', ct.tcpTimeout],
    ['udp_timeout', ct.udpTimeout],
    ['default_timeout', ct.defaultTimeout],
  ] as const) {
    if (!(v > 0) || !Number.isFinite(v)) throw keyError(`firewall.conntrack.${k}`, `expected a duration greater than 0, got ${v}ms`);
  }
  if (!Number.isSafeInteger(ct.maxConnections) || ct.maxConnections < 1) {
    throw keyError('firewall.conntrack.max_connections', `expected an integer >= 1, got ${ct.maxConnections}`);
  }
  fw.inbound.forEach((r, i) => checkRule(r, `firewall.inbound[${i}]`));
  fw.outbound.forEach((r, i) => checkRule(r, `firewall.outbound[${i}]`));
}

function checkRule(r: FirewallRule, path: string): void {
  const okPort = (p: number): boolean => Number.isInteger(p) && p >= PORT_FRAGMENT && p <= 65535;
  if (!okPort(r.startPort) || !okPort(r.endPort)) throw keyError(`${path}.port`, `invalid port range ${r.startPort}-${r.endPort}`);
  if (r.startPort > r.endPort) throw keyError(`${path}.port`, `range start ${r.startPort} is greater than range end ${r.endPort}`);
  if ((r.startPort === PORT_FRAGMENT) !== (r.endPort === PORT_FRAGMENT)) throw keyError(`${path}.port`, 'fragment cannot be part of a range');
  if (!PROTOS.includes(r.proto)) throw keyError(`${path}.proto`, `expected one of ${PROTOS.join(', ')}, got ${showValue(r.proto)}`);
  if (r.host === null && (r.groups === null || r.groups.length === 0) && r.cidr === null && r.caName === null && r.caSha === null) {
    throw keyError(path, NO_PEER_MATCH);
  }
  for (const [key, c] of [
    ['cidr', r.cidr],
    ['local_cidr', r.localCidr],
  ] as const) {
    const max = c?.family === 4 ? 32 : 128;
    if (c != null && (!Number.isInteger(c.bits) || c.bits < 0 || c.bits > max)) throw keyError(`${path}.${key}`, `prefix must be 0..${max}`);
  }
}
