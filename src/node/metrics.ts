/**
 * Prometheus metrics (`stats.type: prometheus`, Nebula's keys) with prom-client, loaded only when
 * configured. Nothing is counted here: every value is read at scrape time from the counters the
 * node keeps anyway (NodeStats, the host map, the firewall, the relay table), so metrics cost the
 * data path nothing. Names follow Nebula's where it has one (dots as underscores), prefixed with
 * `stats.namespace` and `stats.subsystem`.
 */
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { UserError } from '../errors.js';
import { endpointKey } from '../net/endpoint.js';
import type { StatsConfig } from './config/stats.js';
import type { MeshNode } from './node.js';

/** One more value to export, read at scrape time (a lighthouse adds its own through this). */
export interface ExtraMetric {
  name: string;
  help: string;
  kind: 'gauge' | 'counter';
  /** Whether it is exported only with stats.lighthouse_metrics. */
  lighthouse?: boolean;
  read(): number;
}

/** Nebula header types by number, as message_metrics labels. */
const MESSAGE_TYPES = ['handshake', 'message', 'recv_error', 'lighthouse', 'test', 'close_tunnel', 'control'];

export class MetricsServer {
  private constructor(
    readonly config: StatsConfig,
    private readonly server: Server,
    /** Where it listens ("host:port"; the port is the real one when stats.listen asked for 0). */
    readonly address: string,
  ) {}

  /** Starts the exporter `config` asks for; null when stats.type is not prometheus. */
  static async start(config: StatsConfig, node: MeshNode, extra: readonly ExtraMetric[], log: Logger): Promise<MetricsServer | null> {
    if (config.type !== 'prometheus' || !config.listen) return null;
    const registry = await buildRegistry(config, node, extra);
    // node:http (with net and streams) is loaded only by a node that serves metrics.
    const { createServer } = await import('node:http');
    const path = config.path;
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== path) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: metrics are at ${path}\n`);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
        (err: unknown) => {
          log.error({ err }, 'stats: collecting metrics failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
        },
      );
    });
    const { host, port } = config.listen;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new UserError(`stats.listen: cannot listen on ${endpointKey({ address: host, port })}: ${(err as Error).message}`);
    }
    const bound = server.address();
    const address = bound && typeof bound === 'object' ? endpointKey({ address: bound.address, port: bound.port }) : `${host}:${port}`;
    log.info({ listen: address, path }, 'stats: serving Prometheus metrics');
    return new MetricsServer(config, server, address);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function buildRegistry(config: StatsConfig, node: MeshNode, extra: readonly ExtraMetric[]): Promise<Registry> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  const prefix = [config.namespace, config.subsystem].filter((p) => p !== '').map((p) => `${p}_`).join('');
  const registers = [registry];
  const stats = () => node.stats;

  const gauge = (name: string, help: string, read: () => number) =>
    new prom.Gauge({
      name: prefix + name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  /** A counter whose total the node keeps: set to that total at each scrape. */
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], read: () => [Partial<Record<L, string>>, number][]) =>
    new prom.Counter({
      name: prefix + name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels, value);
      },
    });

  gauge('hostmap_main_hosts', 'Tunnels up (established)', () => node.hostmap.size);
  gauge('hostmap_pending_hosts', 'Handshakes under way', () => node.hostmap.pendingSize);
  counter('handshakes_total', 'Handshakes by result: initiated here, completed (either side), timed out, refused for their certificate', ['result'], () => [
    [{ result: 'initiated' }, stats().handshakesInitiated],
    [{ result: 'completed' }, stats().handshakesCompleted],
    [{ result: 'timed_out' }, stats().handshakeTimeouts],
    [{ result: 'invalid_certificate' }, stats().invalidCertificates],
  ]);
  counter('packets_total', 'UDP datagrams received (rx) and sent (tx) on the listen socket', ['direction'], () => [
    [{ direction: 'rx' }, stats().rxPackets],
    [{ direction: 'tx' }, stats().txPackets],
  ]);
  counter('bytes_total', 'Bytes of UDP datagrams received (rx) and sent (tx)', ['direction'], () => [
    [{ direction: 'rx' }, stats().rxBytes],
    [{ direction: 'tx' }, stats().txBytes],
  ]);
  counter('dropped_total', 'Packets dropped, by reason (firewall-inbound/outbound, replay, bad-tag = decryption failed, unknown-index = no tunnel, tun-no-route, udp-send-error, ...)', ['reason'], () =>
    Object.entries(node.droppedByReason()).map(([reason, n]) => [{ reason }, n]),
  );
  counter('kernel_dropped_total', "Packets the kernel dropped for this node: at its UDP socket (udp_socket, a full receive buffer), at its TUN device's queue (tun_queue) and on TUN writes (tun_write)", ['where'], () => {
    const drops = node.kernelDrops();
    const rows: [{ where: string }, number][] = [];
    for (const [where, count] of [['udp_socket', drops.udpSocket], ['tun_queue', drops.tunQueue], ['tun_write', drops.tunWrite]] as const) {
      if (count !== null) rows.push([{ where }, count]);
    }
    return rows;
  });
  counter('recv_errors_sent_total', 'recv_error messages sent for packets on unknown tunnels', [], () => [[{}, stats().recvErrorsSent]]);
  counter('tunnels_dead_total', 'Tunnels closed because the peer stopped answering', [], () => [[{}, stats().deadTunnels]]);
  counter('punches_total', 'Hole punches sent (punchy)', [], () => [[{}, stats().punchesSent]]);
  new prom.Gauge({
    name: `${prefix}relay_sessions`,
    help: 'Established relays by role: terminal (this node is an end) or forwarding (this node relays)',
    labelNames: ['role'],
    registers,
    collect() {
      const established = node.relays.relays().filter((r) => r.state === 'established');
      this.set({ role: 'terminal' }, established.filter((r) => r.terminal).length);
      this.set({ role: 'forwarding' }, established.filter((r) => !r.terminal).length);
    },
  });
  gauge('certificate_ttl_seconds', 'Seconds until the host certificate expires', () => node.identity.cert.details.notAfter - Date.now() / 1000);
  gauge('certificate_initiating_version', 'Certificate version handshakes start with (pki.initiating_version)', () => node.identity.initiatingVersion);
  gauge('certificate_max_version', 'Highest certificate version this host holds', () => Math.max(...node.identity.certificates().map((c) => c.version)));
  gauge('firewall_conntrack_count', 'Flows in the firewall connection table', () => node.firewall.conntrack.size);
  if (config.lighthouseMetrics) {
    counter('lighthouse_client_queries_total', 'Host queries sent to lighthouses', [], () => [[{}, stats().lighthouseQueries]]);
    counter('lighthouse_client_answers_total', 'Host query answers received from lighthouses', [], () => [[{}, stats().lighthouseAnswers]]);
  }
  if (config.messageMetrics) {
    counter('messages_total', 'Nebula messages by header type, received (rx) and sent (tx, sealed ones)', ['direction', 'type'], () =>
      MESSAGE_TYPES.flatMap((type, i) => [
        [{ direction: 'rx', type }, stats().rxByType[i]!] as [Record<'direction' | 'type', string>, number],
        [{ direction: 'tx', type }, stats().txByType[i]!] as [Record<'direction' | 'type', string>, number],
      ]),
    );
  }
  for (const metric of extra) {
    if (metric.lighthouse && !config.lighthouseMetrics) continue;
    if (metric.kind === 'gauge') gauge(metric.name, metric.help, metric.read);
    else counter(metric.name, metric.help, [], () => [[{}, metric.read()]]);
  }
  return registry;
}
