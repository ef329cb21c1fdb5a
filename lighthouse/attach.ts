/**
 * A lighthouse is a node plus the address book, STUN and DNS: this plugs them into a running
 * MeshNode through the node's lighthouse and STUN hooks, each part taking only what it uses.
 */
import type { UdpBind, UdpOptions } from '../src/io/udp.js';
import type { ExtraMetric } from '../src/node/metrics.js';
import { formatIp } from '../src/net/ipv4.js';
import type { MeshNode } from '../src/node/node.js';
import { LighthouseDns } from './dns.js';
import { LighthouseServer } from './server.js';
import type { LighthouseWeb } from './web.js';
import { StunResponder } from './stun.js';

export interface Lighthouse {
  readonly server: LighthouseServer;
  readonly stun: StunResponder;
  /** `lighthouse.serve_dns`; null when off or when it could not bind. */
  readonly dns: LighthouseDns | null;
  /** What `mesh status` shows of a lighthouse. */
  status(): LighthouseStatus;
  /** What the Prometheus exporter adds for a lighthouse. */
  readonly metrics: readonly ExtraMetric[];
  /** `lighthouse.web`; null when off or when it could not listen. */
  readonly web: LighthouseWeb | null;
  stop(): Promise<void>;
}

export interface LighthouseStatus {
  /** Hosts in the address book. */
  hosts: number;
  /** Totals since start. */
  queries: number;
  answers: number;
  updates: number;
  /** Host queries per second over the last minute (or since start, when shorter). */
  queriesPerSecond: number;
}

/** The query rate is measured over this window, from samples taken every tenth of it. */
const RATE_WINDOW_MS = 60_000;

/** STUN and DNS are aids: when they cannot bind, the lighthouse runs without them (as Nebula does for DNS). */
export async function attachLighthouse(node: MeshNode, bindUdp?: (options: UdpOptions) => Promise<UdpBind>): Promise<Lighthouse> {
  const { diag, log } = node;
  const server = new LighthouseServer({
    diag,
    sendOn: (host, type, subtype, payload) => node.sendOn(host, type, subtype, payload),
    sendTo: (vpnIp, type, subtype, payload) => node.sendTo(vpnIp, type, subtype, payload),
    remoteAllowed: (vpnIp, addr) => node.remoteAllowed(vpnIp, addr),
    inVpnNetworks: (ip) => node.identity.inVpnNetworks(ip),
  });
  node.serveLighthouse(server);
  const stun = await StunResponder.start(
    { diag, log, listenHost: node.config.listen.host, listenPort: () => node.listenPort, sendRaw: (data, to) => node.sendRaw(data, to), bindUdp },
    node.config.stun.alternatePort,
  );
  node.answerStun((data, from) => stun.answer(data, from));
  let dns: LighthouseDns | null = null;
  const { serveDns, dns: listen } = node.config.lighthouse;
  if (serveDns) {
    try {
      dns = await LighthouseDns.start(
        {
          diag,
          log,
          self: () => ({ cert: node.identity.cert, vpnAddrs: node.identity.vpnAddrs }),
          connectedCert: (vpnIp) => node.hostmap.get(vpnIp)?.cert ?? null,
          hostNamed: (name) => server.directory.hostNamed(name),
          inVpnNetwork: (ip) => node.identity.inVpnNetwork(ip),
        },
        listen,
      );
    } catch (err) {
      log.error({ reason: (err as Error).message, host: listen.host, port: listen.port }, 'lighthouse.dns: cannot start the DNS server');
    }
  }
  // Query totals sampled every 6 s: the rate is the growth since the oldest sample in the window.
  const samples: { at: number; queries: number }[] = [{ at: Date.now(), queries: 0 }];
  const sampler = setInterval(() => {
    samples.push({ at: Date.now(), queries: server.counts.queries });
    if (samples.length > 10) samples.shift();
  }, RATE_WINDOW_MS / 10);
  sampler.unref();
  const web = node.config.lighthouse.web.enabled ? await startWeb(node, server) : null;
  return {
    server,
    stun,
    dns,
    status() {
      const oldest = samples[0]!;
      const seconds = (Date.now() - oldest.at) / 1000;
      const rate = seconds > 0 ? (server.counts.queries - oldest.queries) / seconds : 0;
      return { hosts: server.size, ...server.counts, queriesPerSecond: Math.round(rate * 100) / 100 };
    },
    metrics: [
      { name: 'lighthouse_hosts', help: 'Hosts in the lighthouse address book', kind: 'gauge', read: () => server.size },
      { name: 'lighthouse_queries_total', help: 'Host queries received', kind: 'counter', lighthouse: true, read: () => server.counts.queries },
      { name: 'lighthouse_answers_total', help: 'Host queries answered', kind: 'counter', lighthouse: true, read: () => server.counts.answers },
      { name: 'lighthouse_updates_total', help: 'Host update notifications received', kind: 'counter', lighthouse: true, read: () => server.counts.updates },
    ],
    web,
    async stop() {
      clearInterval(sampler);
      await web?.stop();
      server.stop();
      await stun.stop();
      await dns?.stop();
    },
  };
}

/** The map is an aid like DNS: when it cannot listen, the lighthouse runs without it. Loaded only when enabled. */
async function startWeb(node: MeshNode, server: LighthouseServer): Promise<LighthouseWeb | null> {
  const { log } = node;
  const { listen, port } = node.config.lighthouse.web;
  // Default: the overlay IP, so only mesh members reach it, through the firewall's inbound rules.
  const host = listen || formatIp(node.identity.vpnIp);
  try {
    const { LighthouseWeb } = await import('./web.js');
    return await LighthouseWeb.start(
      {
        log,
        self: () => ({
          cert: node.identity.cert,
          vpnIp: node.identity.vpnIp,
          // All of them: the cap is for reports that travel, this one does not.
          tunnels: node.lighthouseClient.tunnels(),
          natMapping: node.nat.natMapping,
        }),
        hosts: () => server.hosts(),
        view: (vpnIp) => server.view(vpnIp),
        certOf: (vpnIp) => node.hostmap.get(vpnIp)?.cert ?? null,
        namesOf: (vpnIp) => server.directory.namesOf(vpnIp),
        reportOf: (vpnIp) => server.directory.reportOf(vpnIp),
        watch: (watcher) => server.watch(watcher),
        probeRtt: () => node.lighthouseClient.probeTunnels(),
      },
      { host, port },
    );
  } catch (err) {
    log.error({ reason: (err as Error).message, host, port }, 'lighthouse.web: cannot start the map');
    return null;
  }
}
