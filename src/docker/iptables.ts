/**
 * The shim's iptables rules as data, and applying them idempotently. Exactly two rules, each
 * tagged with a comment so that it is found again (after a crash, a dockerd restart, or a second
 * start) and never duplicated:
 *
 *  - filter DOCKER-USER: accept new flows from the mesh (TUN) to the container bridge. Docker's
 *    FORWARD policy is DROP and its own chains only accept replies and published ports; the mesh
 *    firewall has already judged these packets.
 *  - nat POSTROUTING (first): containers' traffic into the mesh is not masqueraded, so the far side
 *    sees the container's address and the mesh firewall can attribute it. Traffic to anywhere else
 *    still meets Docker's MASQUERADE further down.
 */
import { execFile } from 'node:child_process';

export interface IptablesRule {
  table: 'filter' | 'nat';
  chain: string;
  /** The rule after `-A chain`, as iptables -S prints it. */
  spec: string[];
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `iptables ARGS`; the tests put an in-memory table behind it. */
export type IptablesRunner = (args: string[]) => Promise<CommandResult>;

export function commentFor(bridge: string): string {
  return `mesh-docker:${bridge}`;
}

export function shimRules(options: { tun: string; bridge: string; subnet: string }): IptablesRule[] {
  const tag = ['-m', 'comment', '--comment', commentFor(options.bridge)];
  return [
    { table: 'filter', chain: 'DOCKER-USER', spec: ['-i', options.tun, '-o', options.bridge, ...tag, '-j', 'ACCEPT'] },
    { table: 'nat', chain: 'POSTROUTING', spec: ['-s', options.subnet, '-o', options.tun, ...tag, '-j', 'RETURN'] },
  ];
}

export const systemIptables: IptablesRunner = (args) =>
  new Promise((resolve) => {
    execFile('iptables', ['-w', '5', ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, stdout, stderr: err && code === 127 ? `iptables: ${err.message}` : stderr });
    });
  });

export class IptablesError extends Error {}

/**
 * Puts `rules` in place (inserted first in their chain) and deletes any other rule carrying the
 * same tag (left from an earlier run with other settings). Returns what it changed.
 */
export async function applyRules(run: IptablesRunner, rules: readonly IptablesRule[], tag: string): Promise<{ added: number; removed: number }> {
  let added = 0;
  for (const rule of rules) {
    if ((await run(['-t', rule.table, '-C', rule.chain, ...rule.spec])).code === 0) continue;
    const r = await run(['-t', rule.table, '-I', rule.chain, '1', ...rule.spec]);
    if (r.code !== 0) throw new IptablesError(`iptables -t ${rule.table} -I ${rule.chain} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
    added++;
  }
  const removed = await removeTagged(run, tag, rules);
  return { added, removed };
}

/** Deletes every rule with `tag` in the chains the shim uses, except those in `keep`. */
export async function removeTagged(run: IptablesRunner, tag: string, keep: readonly IptablesRule[] = []): Promise<number> {
  let removed = 0;
  for (const [table, chain] of [['filter', 'DOCKER-USER'], ['nat', 'POSTROUTING']] as const) {
    const listed = await run(['-t', table, '-S', chain]);
    if (listed.code !== 0) continue; // the chain does not exist (dockerd never ran): nothing of ours there
    const wanted = new Set(keep.filter((k) => k.table === table && k.chain === chain).map((k) => normalize(k.spec)));
    for (const line of listed.stdout.split('\n')) {
      const words = splitRuleLine(line);
      if (words[0] !== '-A' || words[1] !== chain) continue;
      const spec = words.slice(2);
      if (!hasComment(spec, tag) || wanted.has(normalize(spec))) continue;
      if ((await run(['-t', table, '-D', chain, ...spec])).code === 0) removed++;
    }
  }
  return removed;
}

/** iptables may print options in another order than they were given. */
function normalize(spec: readonly string[]): string {
  return [...spec].sort().join(' ');
}

function hasComment(spec: readonly string[], tag: string): boolean {
  const i = spec.indexOf('--comment');
  return i >= 0 && spec[i + 1] === tag;
}

/** Splits an `iptables -S` line into words, honouring double quotes (comments may be quoted). */
export function splitRuleLine(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m;
  while ((m = re.exec(line)) !== null) words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return words;
}
