/** `mesh status`: what the running node reports over its control socket, as a table or as JSON. */
import { Command } from 'commander';
import type { LighthouseStatus } from '../../lighthouse/attach.js';
import type { NodeStatus } from '../node/status.js';
import { controlRequest, socketFor, withSocketOptions, type SocketOptions } from './control-client.js';

/** `mesh status --json`: the node's report plus what a lighthouse and the Docker shim add. */
export interface StatusReport extends NodeStatus {
  /** Present on lighthouses. */
  lighthouse?: LighthouseStatus;
  /** Present with --docker-bridge. */
  docker?: DockerStatus;
}

export interface DockerStatus {
  network: string;
  subnet: string;
  /** Container names this node publishes to the lighthouses. */
  names: string[];
}

export function statusCommand(): Command {
  return withSocketOptions(new Command('status').description('show the running node: identity, certificate, lighthouses, relays and one line per tunnel'))
    .option('--json', 'print the full report as JSON (a stable format, see README)')
    .action(async (opts: SocketOptions & { json?: boolean }) => {
      const report = (await controlRequest(await socketFor(opts), { command: 'status' }, 10_000)) as StatusReport;
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report, Date.now()));
    });
}

/** The human-readable status. */
export function formatStatus(r: StatusReport, now: number): string {
  const lines: string[] = [];
  const n = r.node;
  lines.push(`${n.name}  ${n.vpnIp} (${n.network})${n.groups.length ? `  groups ${n.groups.join(',')}` : ''}${n.subnets.length ? `  subnets ${n.subnets.join(',')}` : ''}`);
  // A v2 certificate may carry more networks (IPv6 ones) than the first; older nodes report none.
  if ((n.networks?.length ?? 0) > 1) lines.push(`  networks ${n.networks.join(', ')}`);
  lines.push(`  listen ${n.listen}  tun ${n.tun ?? '(disabled)'}  cipher ${n.cipher}`);
  const versions = r.certificate.versions.length > 1 ? `  versions ${r.certificate.versions.join('+')}, initiating ${r.certificate.initiatingVersion}` : `  version ${r.certificate.initiatingVersion}`;
  lines.push(`  certificate expires ${r.certificate.notAfter} (in ${duration(r.certificate.expiresInSeconds)})${versions}${r.certificate.warning ? `  WARNING: ${r.certificate.warning}` : ''}`);
  for (const lh of r.lighthouses) {
    const answer = lh.lastAnswer ? `last answer ${duration((now - Date.parse(lh.lastAnswer)) / 1000)} ago` : 'never answered';
    lines.push(`  lighthouse ${lh.vpnIp}${lh.name ? ` (${lh.name})` : ''}: ${lh.reachable ? 'reachable' : 'unreachable'}, ${answer}`);
  }
  if (r.relays.amRelay) lines.push('  relay: this node relays for others');
  for (const relay of r.relays.relays) lines.push(`  relay ${relay.vpnIp}${relay.name ? ` (${relay.name})` : ''}: ${relay.reachable ? 'reachable' : 'unreachable'}`);
  if (r.lighthouse) lines.push(`  lighthouse serving ${r.lighthouse.hosts} hosts, ${r.lighthouse.queriesPerSecond} queries/s (${r.lighthouse.queries} queries, ${r.lighthouse.answers} answered)`);
  if (r.docker) lines.push(`  docker network ${r.docker.network} on ${r.docker.subnet}${r.docker.names.length ? `, publishing ${r.docker.names.join(', ')}` : ''}`);
  lines.push('');
  if (r.tunnels.length === 0) {
    lines.push('no tunnels');
  } else {
    const rows = [['PEER', 'OVERLAY IP', 'UNDERLAY', 'PATH', 'CIPHER', 'CERT', 'AGE', 'RX', 'TX', 'RTT']];
    for (const t of r.tunnels) {
      rows.push([
        t.name,
        (t.vpnAddrs?.length ?? 0) > 1 ? t.vpnAddrs.join(', ') : t.vpnIp,
        t.remote ?? '-',
        t.path === 'direct' ? 'direct' : `relay via ${t.relay?.name ?? t.relay?.vpnIp ?? '?'}`,
        t.cipher,
        `v${t.certVersion}`,
        duration(t.ageSeconds),
        `${bytes(t.rx.bytes)} / ${t.rx.packets} pkts`,
        `${bytes(t.tx.bytes)} / ${t.tx.packets} pkts`,
        t.lastRttMs === null ? '-' : `${t.lastRttMs.toFixed(1)} ms`,
      ]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    for (const row of rows) lines.push(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  }
  for (const p of r.pending) lines.push(`pending handshake to ${p.vpnIp}: ${p.attempts} attempts, ${duration(p.sinceSeconds)}`);
  const drops = Object.entries(r.counters.dropped).filter(([, count]) => count > 0);
  if (drops.length) lines.push(`drops: ${drops.map(([kind, count]) => `${kind} ${count}`).join(', ')}`);
  // Older nodes report no kernel counters.
  const kernel = r.counters.kernel;
  const kernelDrops = kernel
    ? ([
        ['udp socket (receive buffer full)', kernel.udpSocket],
        ['tun queue (node fell behind)', kernel.tunQueue],
        ['tun writes', kernel.tunWrite],
      ] as const).filter(([, count]) => (count ?? 0) > 0)
    : [];
  if (kernelDrops.length) lines.push(`kernel drops: ${kernelDrops.map(([where, count]) => `${where} ${count}`).join(', ')}`);
  const fast = r.counters.fastPath;
  if (fast) lines.push(`fast path: ${fast.rxPackets} pkts in, ${fast.txPackets} pkts out (${fast.tunnels} tunnels, ${fast.flows} flows)`);
  return `${lines.join('\n')}\n`;
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${(n / (1 << 30)).toFixed(2)} GiB`;
}
