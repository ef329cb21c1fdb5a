/**
 * Nebula 1.6 YAML config files, keys as Nebula spells them, turned into a typed structure with
 * Nebula's defaults applied. Each section is described (keys, kinds, defaults) by the module that
 * owns it under ./config/; this module describes the top level and ties the sections together.
 *
 * Compared to Nebula (which silently falls back to the default on most malformed values) this loader
 * is strict: a value of the wrong type or out of range is a UserError naming the key. Keys it does not
 * know, or knows but does not implement, become warnings (one per key) so that a config file written
 * for a real nebula node still loads.
 */
import { UserError } from '../errors.js';
import { controlSection } from './config/control.js';
import { readConfigDocument } from './config/files.js';
import { enrollmentSection } from './config/enrollment.js';
import { firewallSection } from './config/firewall.js';
import { handshakesSection } from './config/handshakes.js';
import { checkLighthouseHosts, lighthouseSection } from './config/lighthouse.js';
import { listenSection } from './config/listen.js';
import { loggingSection } from './config/logging.js';
import { pkiSection } from './config/pki.js';
import { punchySection } from './config/punchy.js';
import { relaySection } from './config/relay.js';
import { field, int, list, mapping, oneOf, optional, unsupported, Warnings } from './config/schema.js';
import { statsSection } from './config/stats.js';
import { stunSection } from './config/stun.js';
import { timersSection } from './config/timers.js';
import { tunSection } from './config/tun.js';
import {
  configError,
  type HostPort,
  isAbsent,
  isMapping,
  kindOf,
  readBool,
  readCidr4,
  readHostPort,
  readMapping,
  readText,
  readTextList,
  readVpnAddr,
} from './config/values.js';
import type { VpnAddr } from '../net/ip.js';

export type Cipher = 'aes' | 'chachapoly';

/** VPN IP (uint32) → underlay addresses in file order; name resolution is the runtime's job. */
const staticHostMap = field('static_host_map', (value, path) => {
  const hosts = new Map<VpnAddr, HostPort[]>();
  for (const [vpn, written] of Object.entries(readMapping(value, path))) {
    const entryPath = `${path}."${vpn}"`;
    const vpnIp = readVpnAddr(vpn, `${path} key "${vpn}"`);
    const addrs = readTextList(written, entryPath, true);
    if (addrs.length === 0) throw configError(entryPath, 'one or more "host:port" addresses', written);
    hosts.set(vpnIp, [...(hosts.get(vpnIp) ?? []), ...addrs.map((a, i) => readHostPort(a, `${entryPath}[${i}]`, false))]);
  }
  return hosts;
});

const sshd = optional(
  field('sshd', (value, path, warnings) => {
    const settings = readMapping(value, path);
    if (readBool(settings.enabled, `${path}.enabled`, false)) warnings.add(path, 'the admin ssh server is not supported by mesh, ignored');
    return settings;
  }),
);

const topLevel = mapping(
  {
    pki: pkiSection,
    staticHostMap,
    listen: listenSection,
    lighthouse: lighthouseSection,
    routines: int('routines', 1, { min: 1, max: 1024 }),
    punchy: punchySection,
    /** Deprecated: punchy.respond when that is not set; read only then. */
    punchBack: field('punch_back', (value, path) => () => readBool(value, path, false)),
    cipher: oneOf<Cipher>('cipher', 'aes', ['aes', 'chachapoly']),
    preferredRanges: list('preferred_ranges', readCidr4, { single: true }),
    /** Deprecated: one more preferred range. */
    localRange: optional(field('local_range', (value, path) => readCidr4(readText(value, path, ''), path))),
    relay: relaySection,
    stun: stunSection,
    tun: tunSection,
    logging: loggingSection,
    handshakes: handshakesSection,
    timers: timersSection,
    firewall: firewallSection,
    enrollment: enrollmentSection,
    stats: statsSection,
    sshd,
    control: controlSection,
  },
  {
    ignored: { promoter: unsupported('not used by nebula 1.6'), handshake_mac: unsupported('not used by nebula 1.6') },
    finish: ({ punchBack, localRange, routines, ...config }, warnings, raw) => {
      // Nebula's readers per CPU (a multiqueue TUN, SO_REUSEPORT sockets); mesh forwards on one thread.
      if (routines > 1) warnings.add('routines', `mesh forwards on one thread, ${routines} is ignored`);
      checkLighthouseHosts(config.lighthouse, config.staticHostMap, readMapping(raw.lighthouse, 'lighthouse'));
      const { respond, ...punchy } = config.punchy;
      const preferredRanges = config.preferredRanges;
      if (localRange && !preferredRanges.some((r) => r.ip === localRange.ip && r.bits === localRange.bits)) preferredRanges.push(localRange);
      return { ...config, punchy: { ...punchy, respond: respond ?? punchBack() }, preferredRanges };
    },
  },
);

/** All durations are in milliseconds. */
export type NodeConfig = ReturnType<typeof topLevel>;

export interface LoadedConfig {
  config: NodeConfig;
  warnings: string[];
  /** The merged YAML document (what Nebula calls Settings). */
  raw: unknown;
  /** File path, or "dir (a.yml, b.yml)". */
  source: string;
}

/** Loads a config file, or every *.yml/*.yaml under a directory (lexical order, deep-merged). */
export function loadConfig(pathOrDir: string): LoadedConfig {
  const { raw, source } = readConfigDocument(pathOrDir);
  return parseConfig(raw, source);
}

/** Validates an already-parsed YAML document. Throws UserError on the first bad value. */
export function parseConfig(raw: unknown, source: string): LoadedConfig {
  if (isAbsent(raw)) raw = {};
  if (!isMapping(raw)) throw new UserError(`config ${source}: expected a YAML mapping at the top level, got ${kindOf(raw)}`);
  const warnings = new Warnings();
  const config = topLevel(raw, '', warnings);
  return { config, warnings: warnings.messages, raw, source };
}
