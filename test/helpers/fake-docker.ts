/**
 * In-memory stand-ins for the Docker shim's I/O edges: a fake Engine API on a unix socket (the
 * few endpoints the shim calls, with an event stream the test can cut as if dockerd restarted)
 * and an iptables runner backed by in-memory chains.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerInfo, NetworkCreateRequest, NetworkInfo } from '../../src/docker/engine.js';
import type { CommandResult, IptablesRunner } from '../../src/docker/iptables.js';

export class FakeDockerd {
  readonly networks = new Map<string, NetworkInfo>();
  readonly containers = new Map<string, ContainerInfo>();
  readonly calls: string[] = [];
  private readonly streams = new Set<ServerResponse>();
  private server: Server | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'mesh-fake-docker-'));
  readonly socketPath = join(this.dir, 'docker.sock');
  /** A wedged dockerd: 'silent' accepts requests and never answers, 'midway' sends headers and part of a body, then stalls. */
  wedge: 'silent' | 'midway' | null = null;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => this.handle(req.method!, req.url!, body, res));
    });
    await new Promise<void>((resolve) => this.server!.listen(this.socketPath, resolve));
  }

  /** Stops answering (as a stopped dockerd): open event streams end. */
  async stop(): Promise<void> {
    for (const s of this.streams) s.end();
    this.streams.clear();
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    this.server = null;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  emit(event: object): void {
    for (const s of this.streams) s.write(`${JSON.stringify(event)}\n`);
  }

  get streaming(): number {
    return this.streams.size;
  }

  addNetwork(name: string, subnet: string, containers: Record<string, { Name: string; IPv4Address: string }> = {}): NetworkInfo {
    const info: NetworkInfo = { Id: randomBytes(32).toString('hex'), Name: name, Driver: 'bridge', IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] }, Options: {}, Labels: {}, Containers: containers };
    this.networks.set(name, info);
    return info;
  }

  /**
   * A container on `network` as dockerd would show it: inspectable, attached with `ip` while
   * running; then the event `action` (start, die, health_status: healthy, ...).
   */
  setContainer(network: string, info: ContainerInfo, ip: string, action: string): void {
    this.containers.set(info.Id, info);
    const net = this.networks.get(network)!;
    net.Containers = { ...net.Containers };
    if (info.State.Running) net.Containers[info.Id] = { Name: info.Name.replace(/^\//, ''), IPv4Address: `${ip}/24` };
    else delete net.Containers[info.Id];
    this.emit({ Type: 'container', Action: action, Actor: { ID: info.Id, Attributes: { name: info.Name } } });
  }

  private handle(method: string, url: string, body: string, res: ServerResponse): void {
    const path = url.replace(/^\/v1\.\d+/, '').split('?')[0]!;
    this.calls.push(`${method} ${path}`);
    if (this.wedge === 'silent') return;
    if (this.wedge === 'midway') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 1000 });
      return void res.write('{"Version":');
    }
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (method === 'GET' && path === '/version') return json(200, { Version: '20.10.24', ApiVersion: '1.41', MinAPIVersion: '1.12' });
    if (method === 'GET' && path === '/events') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      this.streams.add(res);
      res.on('close', () => this.streams.delete(res));
      return;
    }
    if (method === 'POST' && path === '/networks/create') {
      const req = JSON.parse(body) as NetworkCreateRequest;
      if (this.networks.has(req.Name)) return json(409, { message: `network with name ${req.Name} already exists` });
      const info: NetworkInfo = { Id: randomBytes(32).toString('hex'), Name: req.Name, Driver: req.Driver, IPAM: req.IPAM, Options: req.Options, Labels: req.Labels, Containers: {} };
      this.networks.set(req.Name, info);
      this.emit({ Type: 'network', Action: 'create', Actor: { ID: info.Id, Attributes: { name: req.Name } } });
      return json(201, { Id: info.Id });
    }
    const c = /^\/containers\/([^/]+)\/json$/.exec(path);
    if (c && method === 'GET') {
      const info = this.containers.get(decodeURIComponent(c[1]!));
      return info ? json(200, info) : json(404, { message: 'No such container' });
    }
    const m = /^\/networks\/([^/]+)$/.exec(path);
    if (m) {
      const key = decodeURIComponent(m[1]!);
      const info = this.networks.get(key) ?? [...this.networks.values()].find((n) => n.Id === key);
      if (!info) return json(404, { message: `network ${key} not found` });
      if (method === 'GET') return json(200, info);
      if (method === 'DELETE') {
        this.networks.delete(info.Name);
        this.emit({ Type: 'network', Action: 'destroy', Actor: { ID: info.Id, Attributes: { name: info.Name } } });
        res.writeHead(204);
        return void res.end();
      }
    }
    json(404, { message: `page not found: ${method} ${path}` });
  }
}

/** iptables over in-memory chains: understands -t, -C, -I chain 1, -A, -D, -S, -N as the shim uses them. */
export class FakeIptables {
  readonly chains = new Map<string, string[][]>([
    ['filter DOCKER-USER', [['-j', 'RETURN']]],
    ['nat POSTROUTING', [['-s', '10.200.2.0/24', '!', '-o', 'mesh-cluster', '-j', 'MASQUERADE']]],
  ]);
  readonly log: string[] = [];

  readonly run: IptablesRunner = async (args) => this.exec(args);

  rules(table: string, chain: string): string[] {
    return (this.chains.get(`${table} ${chain}`) ?? []).map((r) => r.join(' '));
  }

  private exec(args: string[]): CommandResult {
    this.log.push(args.join(' '));
    let table = 'filter';
    let rest = args;
    if (rest[0] === '-t') {
      table = rest[1]!;
      rest = rest.slice(2);
    }
    const [op, chain, ...spec] = rest;
    const key = `${table} ${chain}`;
    const list = this.chains.get(key);
    const fail = (msg: string): CommandResult => ({ code: 1, stdout: '', stderr: msg });
    if (op === '-N') {
      if (list) return fail('Chain already exists.');
      this.chains.set(key, []);
      return { code: 0, stdout: '', stderr: '' };
    }
    if (!list) return fail(`iptables: No chain/target/match by that name.`);
    const same = (r: string[], s: string[]) => r.join(' ') === s.join(' ');
    switch (op) {
      case '-C':
        return list.some((r) => same(r, spec)) ? { code: 0, stdout: '', stderr: '' } : fail('iptables: Bad rule (does a matching rule exist in that chain?).');
      case '-I': {
        const at = Number(spec[0]) - 1;
        list.splice(at, 0, spec.slice(1));
        return { code: 0, stdout: '', stderr: '' };
      }
      case '-A':
        list.push(spec);
        return { code: 0, stdout: '', stderr: '' };
      case '-D': {
        const i = list.findIndex((r) => same(r, spec));
        if (i < 0) return fail('iptables: Bad rule (does a matching rule exist in that chain?).');
        list.splice(i, 1);
        return { code: 0, stdout: '', stderr: '' };
      }
      case '-S': {
        const quote = (w: string, i: number, r: string[]) => (r[i - 1] === '--comment' ? `"${w}"` : w);
        const lines = [`-N ${chain}`, ...list.map((r) => `-A ${chain} ${r.map(quote).join(' ')}`)];
        return { code: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
      }
      default:
        return fail(`unsupported: ${args.join(' ')}`);
    }
  }
}
