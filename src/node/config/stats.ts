/**
 * stats: metrics export, Nebula's keys. `type: prometheus` serves them over HTTP at `listen` +
 * `path`; `type: graphite` (with `prefix`, `protocol`, `host`) is not supported by mesh and only
 * warned about; no `type` means no metrics.
 */
import { bool, duration, oneOf, section, text } from './schema.js';
import { configError, readHostPort, type HostPort } from './values.js';

export type StatsType = '' | 'prometheus' | 'graphite';

export const statsSection = section(
  'stats',
  {
    type: oneOf<StatsType>('type', '', ['', 'prometheus', 'graphite']),
    listen: text('listen', ''),
    path: text('path', '/metrics'),
    namespace: text('namespace', ''),
    subsystem: text('subsystem', ''),
    /** Nebula samples its gauges this often; mesh reads every value at scrape time, so this only has to be valid. */
    interval: duration('interval', 10_000, { positive: true }),
    /** Messages by header type, each way. */
    messageMetrics: bool('message_metrics', false),
    /** Lighthouse queries, answers and updates, on nodes and lighthouses. */
    lighthouseMetrics: bool('lighthouse_metrics', false),
    /** graphite only: read so that a graphite section loads, then ignored with the warning below. */
    prefix: text('prefix', ''),
    protocol: text('protocol', ''),
    host: text('host', ''),
  },
  {
    finish: ({ prefix: _prefix, protocol: _protocol, host: _host, listen, ...stats }, warnings, raw, path) => {
      if (stats.type === 'graphite') warnings.add(`${path}.type`, 'graphite is not supported by mesh (use prometheus), no metrics are exported');
      let listenAt: HostPort | null = null;
      if (stats.type === 'prometheus') {
        if (listen === '') throw configError(`${path}.listen`, 'a "host:port" to serve the metrics on (stats.type is prometheus)', raw.listen);
        listenAt = readHostPort(listen, `${path}.listen`, false);
        if (!stats.path.startsWith('/')) throw configError(`${path}.path`, 'an HTTP path starting with "/"', raw.path);
        for (const key of ['namespace', 'subsystem'] as const) {
          if (stats[key] !== '' && !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(stats[key])) throw configError(`${path}.${key}`, 'a Prometheus name part (letters, digits, _)', raw[key]);
        }
      }
      return { ...stats, listen: listenAt };
    },
  },
);

export type StatsConfig = ReturnType<typeof statsSection.read>;
