/**
 * Enrollment lab (a Lab, see lab.ts) for `mesh ca serve` / `mesh join`: hosts get their
 * certificates, CA and config the way a user's would, by joining with a token.
 *
 * Layout: a "switch" namespace with the underlay bridge (172.31.61.0/24); the lighthouse's
 * namespace also runs the enrollment service (port 4243 on its underlay address), as `mesh ca
 * serve` would run beside a lighthouse on the CA host; every other host joins from its own
 * namespace with `mesh join TOKEN --dir <lab dir>/<name>`. The CA is `mesh ca init --ips
 * 10.43.0.0/16 --subnets 10.201.0.0/16`; the lighthouse is signed with `mesh ca sign` as
 * 10.43.0.1 (so the ledger knows it). The one change the lab makes to a joined config is the TUN
 * device name, unique per lab.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseYaml, stringifyYaml } from '../yaml.js';
import { MESH_BIN, nodeCommand, READY } from './binaries.js';
import { ALLOW_ALL } from './configs.js';
import { Lab, type LabNode } from './lab.js';
import type { CleanupHost, ExecResult } from './netns.js';

const UNDERLAY_NET = '172.31.61';
const CA_IPS = '10.43.0.0/16';
const CA_SUBNETS = '10.201.0.0/16';
const LISTEN_PORT = 4242;
const SERVICE_PORT = 4243;

export interface EnrollHost extends LabNode {
  underlayIp: string;
  /** Where `mesh join` writes ca.crt, host.crt, host.key and config.yml. */
  joinDir: string;
}

export class EnrollLab extends Lab<EnrollHost> {
  private constructor(namePrefix: string) {
    super({ kind: 'enroll', namePrefix, pki: 'mesh', ca: { ips: CA_IPS, subnets: CA_SUBNETS }, underlay: { description: `the underlay switch (${UNDERLAY_NET}.0/24)` } });
  }

  static create(t?: CleanupHost, options: { namePrefix?: string } = {}): EnrollLab {
    return new EnrollLab(options.namePrefix ?? 'men').cleanupAfter(t);
  }

  get ledgerPath(): string {
    return join(this.dir, 'ca.subnets.json');
  }

  get serviceAddress(): string {
    return `${this.host('lh').underlayIp}:${SERVICE_PORT}`;
  }

  /** Adds a host namespace on the underlay; the first one ("lh") is the lighthouse and CA host. */
  async addHost(name: string): Promise<EnrollHost> {
    const ns = await this.hostNamespace(name, 8);
    const i = this.hosts.size;
    const dev = await this.plug(ns);
    const underlayIp = `${UNDERLAY_NET}.${10 + i}`;
    await this.lab.address(ns, dev, `${underlayIp}/24`);
    const host: EnrollHost = { name, ns, underlayIp, vpnIp: '', joinDir: join(this.dir, name), ...this.nodeFiles(name) };
    this.hosts.set(name, host);
    this.say(`created namespace ${ns} for "${name}" (underlay ${underlayIp})`);
    return host;
  }

  /** Starts the lighthouse "lh" (signed with `mesh ca sign`, TUN disabled) and writes the join template. */
  async startLighthouse(): Promise<void> {
    const lh = this.host('lh');
    lh.vpnIp = '10.43.0.1';
    await this.ca.ensure();
    await this.ca.sign('lh', `${lh.vpnIp}/16`, lh);
    this.writeConfig(
      lh,
      this.nodeConfig(lh, { listen: { host: '0.0.0.0', port: LISTEN_PORT }, amLighthouse: true, tun: { disabled: true, dev: lh.tunDev }, inbound: ALLOW_ALL, outbound: ALLOW_ALL }),
    );
    await this.launch(lh, nodeCommand('mesh', lh.configPath, 'lighthouse'), READY.mesh, { timeoutMs: 20_000 });
    // What joining hosts receive: the lighthouse, and a firewall open to the mesh.
    const template = this.nodeConfig(lh, {
      staticHostMap: { [lh.vpnIp]: [`${lh.underlayIp}:${LISTEN_PORT}`] },
      lighthouses: [lh.vpnIp],
      tun: { mtu: 1300 },
      inbound: ALLOW_ALL,
      outbound: ALLOW_ALL,
    });
    delete template.pki;
    writeFileSync(join(this.dir, 'template.yml'), stringifyYaml(template));
    this.say(`started lighthouse "lh" (${lh.vpnIp}) and wrote the join template`);
  }

  /** Starts `mesh ca serve` beside the lighthouse (in its namespace); `duration` is the certificates' validity. */
  async startService(duration = '1h'): Promise<void> {
    const lh = this.host('lh');
    let service = this.hosts.get('ca');
    if (!service) {
      service = { name: 'ca', ns: lh.ns, underlayIp: lh.underlayIp, vpnIp: '', joinDir: this.dir, ...this.nodeFiles('ca') };
      this.hosts.set('ca', service);
    }
    const args = ['ca', 'serve', '--ca-crt', this.ca.crt, '--ca-key', this.ca.key, '--listen', `0.0.0.0:${SERVICE_PORT}`, '--advertise', this.serviceAddress, '--template', join(this.dir, 'template.yml'), '--duration', duration];
    await this.launch(service, [process.execPath, [MESH_BIN, ...args]], /enrollment service running/, { timeoutMs: 30_000 });
    this.say(`started mesh ca serve on ${this.serviceAddress} (certificates valid ${duration})`);
  }

  /** `mesh ca token create ...` on the CA host; returns the token. */
  async createToken(args: string[]): Promise<string> {
    const out = await this.lab.execOk(this.host('lh').ns, process.execPath, [MESH_BIN, 'ca', 'token', 'create', '--ca-key', this.ca.key, ...args]);
    return out.trim();
  }

  /** `mesh join TOKEN --name NAME --dir DIR ...` in `from`'s namespace. */
  join(from: string, token: string, name: string, dir: string, extra: string[] = []): Promise<ExecResult> {
    return this.lab.exec(this.host(from).ns, process.execPath, [MESH_BIN, 'join', token, '--name', name, '--dir', dir, ...extra], { timeoutMs: 60_000 });
  }

  /** Starts the joined host's node from the config `mesh join` wrote (with the lab's TUN name). */
  async startJoined(name: string): Promise<void> {
    const host = this.host(name);
    const configPath = join(host.joinDir, 'config.yml');
    const config = parseYaml(readFileSync(configPath, 'utf8')) as { tun?: Record<string, unknown>; pki: { cert: string; key: string } };
    config.tun = { ...config.tun, dev: host.tunDev };
    writeFileSync(configPath, stringifyYaml(config));
    host.configPath = configPath;
    host.certPath = config.pki.cert;
    host.keyPath = config.pki.key;
    await this.launch(host, nodeCommand('mesh', configPath), READY.mesh, { timeoutMs: 20_000 });
    this.say(`started the joined node "${name}" (${host.vpnIp})`);
  }
}
