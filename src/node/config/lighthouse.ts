/** lighthouse: who the lighthouses are, what this node tells them, and which addresses it accepts. */
import {
  type AllowList,
  AllowListError,
  type AllowListRule,
  completeAllowList,
  type InterfaceRule,
  interfaceRegex,
  type LocalAllowList,
  type RemoteAllowRange,
} from '../../net/allow-list.js';
import { parseIpPrefix } from '../../net/ip.js';
import { bool, field, type FieldValue, int, laterNebula, list, optional, section, seconds, text } from './schema.js';
import {
  configError,
  type HostPort,
  isAbsent,
  isMapping,
  keyError,
  readBool,
  readCidr4,
  readHostPort,
  readMapping,
  type RawMap,
  readVpnAddr,
} from './values.js';
import type { VpnAddr } from '../../net/ip.js';

/**
 * "CIDR: true/false" entries (IPv4 and IPv6). `readInterfaces` takes the `interfaces` key of a
 * local allow list; elsewhere that key is read as a CIDR (and refused).
 */
function readAllowList(value: unknown, path: string, readInterfaces?: (value: unknown) => void): AllowList {
  if (!isMapping(value)) throw configError(path, 'a mapping of CIDR to true/false', value);
  const rules: AllowListRule[] = [];
  for (const [cidr, allow] of Object.entries(value)) {
    if (cidr === 'interfaces' && readInterfaces) {
      readInterfaces(allow);
      continue;
    }
    const rulePath = `${path}."${cidr}"`;
    const prefix = parseIpPrefix(cidr);
    if (!prefix) throw configError(rulePath, 'a CIDR key (IPv4 or IPv6) mapped to true/false', cidr);
    if (isAbsent(allow)) throw configError(rulePath, 'true or false', allow);
    rules.push({ cidr, ...prefix, allow: readBool(allow, rulePath, false), implicit: false });
  }
  try {
    return completeAllowList(rules);
  } catch (err) {
    if (err instanceof AllowListError) throw keyError(path, err.message);
    throw err;
  }
}

function readLocalAllowList(value: unknown, path: string): LocalAllowList {
  const interfaces: InterfaceRule[] = [];
  const cidrRules = readAllowList(value, path, (rawInterfaces) => {
    const interfacesPath = `${path}.interfaces`;
    if (isAbsent(rawInterfaces)) return;
    if (!isMapping(rawInterfaces)) throw configError(interfacesPath, 'a mapping of interface-name regex to true/false', rawInterfaces);
    for (const [pattern, allow] of Object.entries(rawInterfaces)) {
      const regex = interfaceRegex(pattern);
      if (!regex) throw configError(`${interfacesPath}."${pattern}"`, 'a valid regular expression as key', pattern);
      interfaces.push({ pattern, regex, allow: readBool(allow, `${interfacesPath}."${pattern}"`, false) });
    }
    if (new Set(interfaces.map((r) => r.allow)).size > 1) throw keyError(interfacesPath, 'values must all be the same true/false value');
  });
  return { ...cidrRules, interfaces };
}

/** Inside (VPN) CIDR → the allow list for underlay addresses of hosts in it. */
function readRemoteAllowRanges(value: unknown, path: string): RemoteAllowRange[] {
  return Object.entries(readMapping(value, path)).map(([inside, allowList]) => ({
    inside: readCidr4(inside, `${path} key "${inside}"`),
    allowList: readAllowList(allowList, `${path}."${inside}"`),
  }));
}

export const lighthouseSection = section(
  'lighthouse',
  {
    amLighthouse: bool('am_lighthouse', false),
    /** Update interval in ms; 0 disables updates. (Written in whole seconds in the file; default 10 s.) */
    interval: seconds('interval', 10),
    /** VPN IPs of the lighthouses. */
    hosts: list('hosts', readVpnAddr),
    remoteAllowList: optional(field('remote_allow_list', (value, path) => readAllowList(value, path))),
    remoteAllowRanges: field('remote_allow_ranges', readRemoteAllowRanges),
    localAllowList: optional(field('local_allow_list', readLocalAllowList)),
    /** Port 0 means "use the listen port". */
    advertiseAddrs: list('advertise_addrs', (addr, path): HostPort => readHostPort(addr, path, true)),
    serveDns: bool('serve_dns', false),
    dns: section('dns', { host: text('host', ''), port: int('port', 53, { min: 0, max: 65535 }) }),
    /** The map (lighthouse/web.ts); an empty listen means the lighthouse's own overlay IP. */
    web: section('web', { enabled: bool('enabled', false), listen: text('listen', ''), port: int('port', 8080, { min: 0, max: 65535 }) }),
  },
  {
    ignored: { calculated_remotes: laterNebula('1.7') },
    finish: (lighthouse, warnings, _raw, path) => {
      if (lighthouse.amLighthouse && lighthouse.hosts.length > 0) warnings.add(`${path}.hosts`, 'should be empty on a lighthouse (am_lighthouse is true)');
      if (lighthouse.serveDns && !lighthouse.amLighthouse) {
        warnings.add(`${path}.serve_dns`, 'DNS is only served by lighthouses (am_lighthouse is false), ignored');
      }
      if (lighthouse.web.enabled && !lighthouse.amLighthouse) {
        warnings.add(`${path}.web.enabled`, 'the map is only served by lighthouses (am_lighthouse is false), ignored');
      }
      return lighthouse;
    },
  },
);

export type LighthouseConfig = FieldValue<typeof lighthouseSection>;

/** Every lighthouse needs a static_host_map entry: nodes reach lighthouses by it alone. */
export function checkLighthouseHosts(lighthouse: LighthouseConfig, staticHostMap: Map<VpnAddr, HostPort[]>, raw: RawMap): void {
  lighthouse.hosts.forEach((host, i) => {
    if (staticHostMap.has(host)) return;
    const written = (raw.hosts as unknown[])[i];
    throw keyError(`lighthouse.hosts[${i}]`, `lighthouse ${String(written)} does not have a static_host_map entry`);
  });
}
