/**
 * The kernel's drop counters for a node's own socket and TUN device, read from /proc (no spawns,
 * no privileges). The files under /proc/<pid>/net are those of the pid's network namespace, so
 * /proc/self reads the node's own.
 *
 * These are the drops the node cannot count itself: a datagram its socket had no room for, a packet
 * its TUN queue had no room for, a packet it wrote that the kernel refused.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A device's receive and transmit drops from a line of /proc/net/dev. On a TUN, tx is the queue to the reader. */
export function deviceDrops(netDev: string, ifname: string): { rx: number; tx: number } {
  for (const line of netDev.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() !== ifname) continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    // 8 receive fields (bytes, packets, errs, drop, ...), then transmit bytes, packets, errs, drop, ...
    if (fields.length >= 12 && Number.isFinite(fields[3]) && Number.isFinite(fields[11])) return { rx: fields[3]!, tx: fields[11]! };
  }
  throw new Error(`no device ${ifname} in /proc/net/dev`);
}

/** One of Udp's counters from /proc/net/snmp (InDatagrams, RcvbufErrors, ...). */
export function udpCounter(snmp: string, name: string): number {
  const [names, values] = snmp.split('\n').filter((l) => l.startsWith('Udp:'));
  const i = names?.split(/\s+/).indexOf(name) ?? -1;
  const v = i > 0 ? Number(values?.split(/\s+/)[i]) : NaN;
  if (!Number.isFinite(v)) throw new Error(`no Udp ${name} in /proc/net/snmp`);
  return v;
}

/** Udp's RcvbufErrors: datagrams dropped in the namespace because a socket's buffer was full. */
export function rcvbufErrors(snmp: string): number {
  return udpCounter(snmp, 'RcvbufErrors');
}

/**
 * The drops of the UDP sockets bound to local port `port`, from /proc/net/udp or udp6; with
 * `inodes`, only those of the sockets with these inodes.
 */
export function socketDrops(procNetUdp: string, port: number, inodes?: ReadonlySet<number>): number {
  let drops = 0;
  for (const line of procNetUdp.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const local = f[1]!;
    if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) !== port) continue;
    if (inodes && !inodes.has(Number(f[9]))) continue;
    drops += Number(f[f.length - 1]);
  }
  return drops;
}

/** The inodes of the sockets the process `proc` holds open (its fd links read "socket:[inode]"). */
export function socketInodes(proc = '/proc/self'): Set<number> {
  const inodes = new Set<number>();
  for (const fd of readdirSync(`${proc}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`${proc}/fd/${fd}`);
    } catch {
      continue; // closed between the listing and the read
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(Number(m[1]));
  }
  return inodes;
}

/**
 * Datagrams the kernel dropped for the UDP sockets that the process `proc` holds on local port
 * `port` (IPv4 and IPv6 tables of its network namespace), mostly for a full receive buffer. Another
 * process's socket on the same port (bound to another address) is not counted. The count starts
 * when the socket is opened.
 */
export function readSocketDrops(port: number, proc = '/proc/self'): number {
  const inodes = socketInodes(proc);
  let drops = 0;
  let read = 0;
  let error: unknown;
  for (const table of ['udp', 'udp6']) {
    let text: string;
    try {
      text = readFileSync(`${proc}/net/${table}`, 'utf8');
    } catch (err) {
      error = err; // no IPv6 in this kernel or namespace
      continue;
    }
    read++;
    drops += socketDrops(text, port, inodes);
  }
  if (read === 0) throw error;
  return drops;
}

/** The drops of device `ifname` in this process's network namespace. */
export function readDeviceDrops(ifname: string, proc = '/proc/self'): { rx: number; tx: number } {
  return deviceDrops(readFileSync(`${proc}/net/dev`, 'utf8'), ifname);
}
