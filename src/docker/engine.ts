/**
 * A thin Docker Engine API client over the daemon's unix socket (node:http): the few calls the
 * bridge shim needs, with the API version negotiated as the docker CLI does. `DOCKER_HOST`
 * (unix:// only) selects the socket, as for every Docker tool.
 */
import { request, type IncomingMessage } from 'node:http';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
/** The newest API version this client was written against; older daemons are spoken to in theirs. */
const CLIENT_API_VERSION = '1.43';

export class DockerError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DockerError';
  }
}

/** The daemon is not there (yet): no socket, nobody listening, the connection dropped, or no answer. */
export class DockerUnavailableError extends DockerError {}

/** Every Engine API call (for the event stream: until its headers) gets this long, so a wedged dockerd cannot hang us. */
export const DEFAULT_DOCKER_TIMEOUT_MS = 10_000;

export interface NetworkIpamConfig {
  Subnet?: string;
  Gateway?: string;
}

export interface NetworkInfo {
  Id: string;
  Name: string;
  Driver: string;
  IPAM: { Driver?: string; Config: NetworkIpamConfig[] | null };
  Options: Record<string, string> | null;
  Labels: Record<string, string> | null;
  Containers?: Record<string, { Name: string; IPv4Address: string }> | null;
}

/** The parts of `docker inspect CONTAINER` the name publisher reads. */
export interface ContainerInfo {
  Id: string;
  Name: string;
  State: { Running: boolean; Health?: { Status: string } | null };
  Config: { Labels: Record<string, string> | null };
  NetworkSettings: { Networks: Record<string, { Aliases: string[] | null; IPAddress: string }> | null };
}

export interface NetworkCreateRequest {
  Name: string;
  Driver: string;
  CheckDuplicate?: boolean;
  IPAM: { Driver: string; Config: NetworkIpamConfig[] };
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export interface DockerEvent {
  Type: string;
  Action: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
}

export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
}

/** What the shim needs from Docker; the tests put a fake Engine API behind it. */
export interface DockerEngine {
  readonly socketPath: string;
  version(): Promise<EngineVersion>;
  inspectNetwork(name: string): Promise<NetworkInfo | null>;
  createNetwork(body: NetworkCreateRequest): Promise<string>;
  removeNetwork(id: string): Promise<void>;
  /** null when there is no such container (any more). */
  inspectContainer(id: string): Promise<ContainerInfo | null>;
  /** Streams events until `signal` aborts or the daemon goes away (then the promise rejects). */
  events(filters: Record<string, string[]>, onEvent: (event: DockerEvent) => void, signal: AbortSignal): Promise<void>;
}

/** The socket named by DOCKER_HOST (unix:// only), else Docker's default. */
export function dockerSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (!host) return DEFAULT_DOCKER_SOCKET;
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  throw new DockerError(`DOCKER_HOST=${host}: only unix:// sockets are supported (the shim manages the local daemon)`);
}

function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}

export class HttpDockerEngine implements DockerEngine {
  private apiVersion: string | null = null;

  constructor(
    readonly socketPath: string = dockerSocketPath(),
    private readonly timeoutMs = DEFAULT_DOCKER_TIMEOUT_MS,
  ) {}

  async version(): Promise<EngineVersion> {
    const v = (await this.call('GET', '/version', undefined, false)) as EngineVersion;
    this.apiVersion = compareVersions(v.ApiVersion, CLIENT_API_VERSION) < 0 ? v.ApiVersion : CLIENT_API_VERSION;
    return v;
  }

  async inspectNetwork(name: string): Promise<NetworkInfo | null> {
    try {
      return (await this.call('GET', `/networks/${encodeURIComponent(name)}`)) as NetworkInfo;
    } catch (err) {
      if (err instanceof DockerError && err.status === 404) return null;
      throw err;
    }
  }

  async createNetwork(body: NetworkCreateRequest): Promise<string> {
    const created = (await this.call('POST', '/networks/create', body)) as { Id: string };
    return created.Id;
  }

  async removeNetwork(id: string): Promise<void> {
    await this.call('DELETE', `/networks/${encodeURIComponent(id)}`);
  }

  async inspectContainer(id: string): Promise<ContainerInfo | null> {
    try {
      return (await this.call('GET', `/containers/${encodeURIComponent(id)}/json`)) as ContainerInfo;
    } catch (err) {
      if (err instanceof DockerError && err.status === 404) return null;
      throw err;
    }
  }

  async events(filters: Record<string, string[]>, onEvent: (event: DockerEvent) => void, signal: AbortSignal): Promise<void> {
    const path = `/events?filters=${encodeURIComponent(JSON.stringify(filters))}`;
    const { res, settled } = await this.open('GET', await this.versioned(path), undefined, signal);
    if (res.statusCode !== 200) throw await this.failure(res).finally(settled);
    settled(); // a quiet event stream is normal: no deadline once it is open
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          try {
            onEvent(JSON.parse(line) as DockerEvent);
          } catch {
            // A garbled event line is skipped; the shim re-reads the state on the next one anyway.
          }
        }
      });
      res.on('end', () => (signal.aborted ? resolve() : reject(new DockerUnavailableError('the Docker event stream ended (dockerd stopped?)'))));
      res.on('error', (err) => (signal.aborted ? resolve() : reject(new DockerUnavailableError(`the Docker event stream failed: ${err.message}`))));
    });
  }

  private async versioned(path: string): Promise<string> {
    if (!this.apiVersion) await this.version();
    return `/v${this.apiVersion}${path}`;
  }

  private async call(method: string, path: string, body?: unknown, versioned = true): Promise<unknown> {
    const { res, settled } = await this.open(method, versioned ? await this.versioned(path) : path, body);
    const text = await readAll(res).finally(settled);
    if (res.statusCode! >= 300) throw this.errorFrom(res.statusCode!, text, method, path);
    return text ? JSON.parse(text) : null;
  }

  /**
   * Sends a request; the deadline runs from here until the caller calls `settled` (after reading the
   * body) and, when it passes, destroys the request so that every pending read fails.
   */
  private open(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<{ res: IncomingMessage; settled: () => void }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const timedOut = () =>
        new DockerUnavailableError(`the Docker daemon at ${this.socketPath} did not answer ${method} ${path} within ${this.timeoutMs / 1000}s (dockerd wedged?)`);
      let response: IncomingMessage | undefined;
      const deadline = setTimeout(() => (response ?? req).destroy(timedOut()), this.timeoutMs);
      const settled = () => clearTimeout(deadline);
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: { Host: 'docker', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}) },
          ...(signal ? { signal } : {}),
        },
        (res) => {
          response = res;
          resolve({ res, settled });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        settled();
        if (err instanceof DockerError) {
          reject(err);
        } else if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' || err.code === 'EPIPE') {
          reject(new DockerUnavailableError(`cannot reach the Docker daemon at ${this.socketPath} (${err.code}): is dockerd running? (set DOCKER_HOST=unix:///path/to/docker.sock for another socket)`));
        } else if (err.name === 'AbortError') {
          reject(new DockerUnavailableError('aborted'));
        } else {
          reject(new DockerError(`Docker API ${method} ${path}: ${err.message}`));
        }
      });
      req.end(payload);
    });
  }

  private async failure(res: IncomingMessage): Promise<DockerError> {
    return this.errorFrom(res.statusCode ?? 0, await readAll(res), 'GET', '/events');
  }

  private errorFrom(status: number, text: string, method: string, path: string): DockerError {
    let message = text.trim();
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the text
    }
    return new DockerError(`Docker API ${method} ${path}: ${status} ${message}`, status);
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}
