/**
 * A lab's certificate authority made with a real tool, `mesh ca` or `nebula-cert`, as a user would:
 * ca.crt and ca.key in the lab's directory, made on the first signature.
 */
import { join } from 'node:path';
import { MESH_BIN } from './binaries.js';
import { runOk } from './netns.js';

export type CertTool = 'mesh' | 'nebula-cert';

export interface ToolCAOptions {
  /** The CA's IP and subnet constraints (`mesh ca init --ips/--subnets`; mesh only). */
  ips?: string;
  subnets?: string;
  /** Certificate format (`mesh ca init --version`; mesh only). Default 1. */
  version?: 1 | 2;
}

export interface SignOptions {
  /** Comma separated overlay networks (`--networks`, IPv6 ones need a v2 CA) instead of the one of `ipCidr` (mesh only). */
  networks?: string;
  groups?: string[];
  /** Comma separated CIDRs the host routes for (unsafe routes), or `auto`: mesh picks the host's container subnet (mesh only). */
  subnets?: string;
}

export class ToolCA {
  readonly crt: string;
  readonly key: string;
  private made?: Promise<unknown>;

  constructor(
    readonly tool: CertTool,
    dir: string,
    readonly name: string,
    private readonly options: ToolCAOptions = {},
  ) {
    this.crt = join(dir, 'ca.crt');
    this.key = join(dir, 'ca.key');
    if (tool !== 'mesh' && (options.ips || options.subnets || options.version)) throw new Error('CA constraints and versions need the mesh tool');
  }

  /** Makes the CA once (24 hours); true when this call made it. */
  async ensure(): Promise<boolean> {
    if (this.made) {
      await this.made;
      return false;
    }
    const { ips, subnets, version } = this.options;
    this.made =
      this.tool === 'mesh'
        ? mesh([
            'ca', 'init', '--name', this.name, '--duration', '24h',
            ...(version ? ['--version', String(version)] : []),
            ...(ips ? ['--ips', ips] : []),
            ...(subnets ? ['--subnets', subnets] : []),
            '--out-crt', this.crt, '--out-key', this.key,
          ])
        : runOk('nebula-cert', ['ca', '-name', this.name, '-duration', '24h', '-out-crt', this.crt, '-out-key', this.key]);
    await this.made;
    return true;
  }

  /** Signs a host certificate for `ipCidr` into `out`; returns the tool's output. */
  async sign(name: string, ipCidr: string, out: { certPath: string; keyPath: string }, options: SignOptions = {}): Promise<string> {
    await this.ensure();
    const groups = options.groups?.length ? options.groups.join(',') : undefined;
    if (this.tool === 'mesh') {
      const address = options.networks ? ['--networks', options.networks] : ['--ip', ipCidr];
      const args = ['ca', 'sign', '--ca-crt', this.crt, '--ca-key', this.key, '--name', name, ...address, '--out-crt', out.certPath, '--out-key', out.keyPath];
      if (groups) args.push('--groups', groups);
      if (options.subnets) args.push('--subnets', options.subnets);
      return mesh(args);
    }
    if (options.subnets === 'auto' || options.networks) throw new Error('--subnets auto and --networks need the mesh tool');
    const args = ['sign', '-ca-crt', this.crt, '-ca-key', this.key, '-name', name, '-ip', ipCidr, '-out-crt', out.certPath, '-out-key', out.keyPath];
    if (groups) args.push('-groups', groups);
    if (options.subnets) args.push('-subnets', options.subnets);
    return runOk('nebula-cert', args);
  }
}

function mesh(args: string[]): Promise<string> {
  return runOk(process.execPath, [MESH_BIN, ...args]);
}
