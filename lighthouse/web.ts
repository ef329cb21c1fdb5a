/**
 * `lighthouse.web`: the live map of the mesh, read-only, over node:http. `GET /api/mesh` is the
 * lighthouse's book as JSON (hosts and the tunnels they report), `GET /api/events` sends a
 * server-sent event whenever a host comes, goes or changes, `GET /` is the page (static files in
 * lighthouse/web-assets, cytoscape from node_modules). Certificates' public parts only: nothing
 * here reads a key or the config.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Certificate } from '../pki/cert.js';
import { endpointKey } from '../src/net/endpoint.js';
import { formatIp } from '../src/net/ipv4.js';
import type { Logger } from '../src/log.js';
import type { MeshTunnel, NatMapping } from '../src/protocol/messages.js';
import type { TunnelReport } from './directory.js';
import type { BookView } from './server.js';
import { compareVpnAddr, formatIpNetwork, formatVpnAddr, type VpnAddr } from '../src/net/ip.js';

/** What the map reads: the lighthouse's own identity and tunnels, its book, and the peers' certificates. */
export interface WebDeps {
  readonly log: Logger;
  self(): { cert: Certificate; vpnIp: VpnAddr; tunnels: MeshTunnel[]; natMapping: NatMapping };
  hosts(): VpnAddr[];
  view(vpnIp: VpnAddr): BookView | null;
  certOf(vpnIp: VpnAddr): Certificate | null;
  namesOf(vpnIp: VpnAddr): readonly { name: string; ips: number[] }[];
  reportOf(vpnIp: VpnAddr): TunnelReport | undefined;
  /** Subscribes to host changes; returns the unsubscribe. */
  watch(watcher: (vpnIp: VpnAddr) => void): () => void;
  /** Sends RTT probes on the lighthouse's own tunnels (a lighthouse sends no updates that would). */
  probeRtt(): void;
}

export interface MeshHost {
  name: string;
  vpnIp: string;
  groups: string[];
  subnets: string[];
  containers: { name: string; ips: string[] }[];
  learned: string[];
  reported: string[];
  nat: NatMapping;
  relays: string[];
  lighthouse: boolean;
  /** Another host names it in relay.relays, or a tunnel goes through it. */
  relay: boolean;
  /** ISO time of the last update; null for the lighthouse itself. */
  lastSeen: string | null;
  /** Tunnels the host has (its report may list fewer). */
  tunnels: number | null;
}

export interface MeshEdge {
  from: string;
  to: string;
  kind: 'direct' | 'relayed';
  via: string | null;
  rttMs: number | null;
  ageSeconds: number;
}

export interface MeshView {
  lighthouse: string;
  generatedAt: string;
  hosts: MeshHost[];
  edges: MeshEdge[];
}

/** Events are coalesced: a burst of changes (an update and a report) makes one event. */
const EVENT_DELAY_MS = 250;
/** SSE comment lines keep idle connections (and proxies) from timing out. */
const KEEPALIVE_MS = 15_000;
/** RTT probes of the lighthouse's own tunnels. */
const PROBE_INTERVAL_MS = 10_000;
/** Event streams open at once: each holds a socket. */
const MAX_EVENT_STREAMS = 64;

const ASSETS: Record<string, { file: () => string; type: string }> = {
  '/': { file: () => assetPath('index.html'), type: 'text/html; charset=utf-8' },
  '/map.js': { file: () => assetPath('map.js'), type: 'text/javascript; charset=utf-8' },
  '/map.css': { file: () => assetPath('map.css'), type: 'text/css; charset=utf-8' },
  '/vendor/cytoscape.min.js': { file: () => createRequire(import.meta.url).resolve('cytoscape/dist/cytoscape.min.js'), type: 'text/javascript; charset=utf-8' },
};

/** dist/lighthouse/web.js → lighthouse/web-assets in the package. */
function assetPath(name: string): string {
  return fileURLToPath(new URL(`../../lighthouse/web-assets/${name}`, import.meta.url));
}

/** The mesh as the map shows it: every host in the book plus the lighthouse, and the reported tunnels between them. */
export function meshView(deps: WebDeps): MeshView {
  const self = deps.self();
  const selfIp = formatVpnAddr(self.vpnIp);
  const hosts: MeshHost[] = [hostOf(self.cert, selfIp, { nat: self.natMapping, lighthouse: true, tunnels: self.tunnels.length })];
  const known = new Set([selfIp]);
  const reports: [string, MeshTunnel[]][] = [[selfIp, self.tunnels]];
  for (const vpnIp of deps.hosts().sort(compareVpnAddr)) {
    const view = deps.view(vpnIp);
    const cert = deps.certOf(vpnIp);
    if (!view || !cert) continue;
    const report = deps.reportOf(vpnIp);
    const ip = formatVpnAddr(vpnIp);
    known.add(ip);
    hosts.push({
      ...hostOf(cert, ip, { nat: report?.natMapping ?? 'unknown', lighthouse: false, tunnels: report?.total ?? null }),
      containers: deps.namesOf(vpnIp).map((n) => ({ name: n.name, ips: n.ips.map(formatIp) })),
      learned: view.learned.map(endpointKey),
      reported: view.reported.map(endpointKey),
      relays: view.relays.map(formatVpnAddr),
      lastSeen: new Date(Math.max(view.seenAt, report?.at ?? 0)).toISOString(),
    });
    if (report) reports.push([ip, report.tunnels]);
  }
  // Both ends report a tunnel: one edge per pair, the first report's view (RTT from either).
  const edges = new Map<string, MeshEdge>();
  const relays = new Set(hosts.flatMap((h) => h.relays));
  for (const [from, tunnels] of reports) {
    for (const t of tunnels) {
      const to = formatIp(t.peerIp);
      if (!known.has(to)) continue;
      const via = t.relayIp === 0 ? null : formatIp(t.relayIp);
      if (via) relays.add(via);
      const key = from < to ? `${from} ${to}` : `${to} ${from}`;
      const rttMs = t.rttMicros === 0 ? null : t.rttMicros / 1000;
      const edge = edges.get(key);
      if (edge) edge.rttMs ??= rttMs;
      else edges.set(key, { from, to, kind: via ? 'relayed' : 'direct', via, rttMs, ageSeconds: t.ageSeconds });
    }
  }
  for (const h of hosts) h.relay = relays.has(h.vpnIp);
  return { lighthouse: selfIp, generatedAt: new Date().toISOString(), hosts, edges: [...edges.values()] };
}

function hostOf(cert: Certificate, vpnIp: string, extra: { nat: NatMapping; lighthouse: boolean; tunnels: number | null }): MeshHost {
  const d = cert.details;
  return {
    name: d.name,
    vpnIp,
    groups: [...d.groups],
    subnets: d.unsafeNetworks.map(formatIpNetwork),
    containers: [],
    learned: [],
    reported: [],
    relays: [],
    relay: false,
    lastSeen: null,
    ...extra,
  };
}

export class LighthouseWeb {
  private readonly streams = new Set<ServerResponse>();
  private pendingEvent: NodeJS.Timeout | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unwatch: () => void;

  private constructor(
    private readonly deps: WebDeps,
    private readonly server: Server,
  ) {
    this.unwatch = deps.watch(() => this.scheduleEvent());
    const keepalive = setInterval(() => {
      for (const s of this.streams) s.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    const probe = setInterval(() => deps.probeRtt(), PROBE_INTERVAL_MS);
    keepalive.unref();
    probe.unref();
    this.timers.push(keepalive, probe);
    deps.probeRtt();
  }

  static async start(deps: WebDeps, listen: { host: string; port: number }): Promise<LighthouseWeb> {
    let web: LighthouseWeb | null = null;
    const server = createServer((req, res) => {
      if (web) void web.serve(req, res);
      else res.writeHead(503).end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    web = new LighthouseWeb(deps, server);
    const { address, port } = server.address() as AddressInfo;
    deps.log.info({ url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/` }, 'lighthouse.web: serving the map');
    return web;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.unwatch();
    for (const t of this.timers) clearInterval(t);
    if (this.pendingEvent) clearTimeout(this.pendingEvent);
    for (const s of this.streams) s.end();
    this.streams.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Open pages keep connections alive: close them rather than wait.
    this.server.closeAllConnections();
    await closed;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://map').pathname;
    // Read-only: nothing answers a method that could change something.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const security = { 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'" };
    if (path === '/api/mesh') {
      res.writeHead(200, { ...security, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(meshView(this.deps)));
      return;
    }
    if (path === '/api/events') {
      if (this.streams.size >= MAX_EVENT_STREAMS) {
        res.writeHead(503, { 'retry-after': '10' }).end();
        return;
      }
      res.writeHead(200, { ...security, 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      // Each event carries the whole view: a page that connects (or reconnects) needs nothing else.
      res.write(`retry: 2000\nevent: mesh\ndata: ${JSON.stringify(meshView(this.deps))}\n\n`);
      this.streams.add(res);
      req.on('close', () => this.streams.delete(res));
      return;
    }
    const asset = ASSETS[path];
    if (!asset) {
      res.writeHead(404, { ...security, 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    try {
      const body = await readFile(asset.file());
      res.writeHead(200, { ...security, 'content-type': asset.type, 'cache-control': 'no-cache' }).end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      this.deps.log.error({ path, reason: (err as Error).message }, 'lighthouse.web: cannot read an asset');
      res.writeHead(500).end();
    }
  }

  private scheduleEvent(): void {
    if (this.pendingEvent || this.streams.size === 0) return;
    this.pendingEvent = setTimeout(() => {
      this.pendingEvent = null;
      const data = `event: mesh\ndata: ${JSON.stringify(meshView(this.deps))}\n\n`;
      for (const s of this.streams) s.write(data);
    }, EVENT_DELAY_MS);
  }
}
