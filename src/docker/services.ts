/**
 * The names a host's containers answer to on the mesh network, as Docker users address them: the
 * container name, its network aliases on that network (`docker run --network-alias api`), and its
 * Compose service (`com.docker.compose.service`), also qualified by its project as
 * `<service>.<project>` for when two projects share a service name. Only running containers count,
 * and of those with a health check only the healthy ones: a name then stands for every replica
 * that can take traffic.
 */
import { parseIp } from '../net/ipv4.js';
import type { ContainerInfo, DockerEngine, NetworkInfo } from './engine.js';

export const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';
export const COMPOSE_SERVICE_LABEL = 'com.docker.compose.service';

/** Docker's name rule ([a-zA-Z0-9][a-zA-Z0-9_.-]*), lower case, as DNS compares names. */
const NAME = /^[a-z0-9][a-z0-9_.-]*$/;

/** Container inspections in flight at once when many containers are new (a dockerd restart, a big scale-up). */
const INSPECTS_AT_ONCE = 16;

/** The names of one container on `network`, or none when it should not take traffic. */
export function namesOfContainer(info: ContainerInfo, network: string): string[] {
  if (!info.State.Running) return [];
  const health = info.State.Health?.Status;
  if (health !== undefined && health !== 'none' && health !== 'healthy') return [];
  const names = new Set<string>([info.Name.replace(/^\//, '')]);
  const shortId = info.Id.slice(0, 12);
  for (const alias of info.NetworkSettings.Networks?.[network]?.Aliases ?? []) {
    // Docker adds the short container ID as an alias on user-defined networks: not a name anyone chose.
    if (alias !== shortId && alias !== info.Id) names.add(alias);
  }
  const service = info.Config.Labels?.[COMPOSE_SERVICE_LABEL];
  const project = info.Config.Labels?.[COMPOSE_PROJECT_LABEL];
  if (service) {
    names.add(service);
    if (project) names.add(`${service}.${project}`);
  }
  return [...names].map((n) => n.toLowerCase()).filter((n) => NAME.test(n));
}

/** name → addresses over all containers: several replicas under one name give several addresses. */
export function nameTable(containers: readonly { names: readonly string[]; ip: number }[]): Map<string, number[]> {
  const table = new Map<string, number[]>();
  for (const c of containers) {
    for (const name of c.names) {
      const ips = table.get(name);
      if (!ips) table.set(name, [c.ip]);
      else if (!ips.includes(c.ip)) ips.push(c.ip);
    }
  }
  return table;
}

/**
 * Builds the name table of a network's containers, inspecting each container once and again only
 * after an event about it (`forget`): with hundreds of containers a change costs one inspect.
 */
export class ServiceNames {
  private readonly inspected = new Map<string, ContainerInfo>();

  constructor(
    private readonly engine: Pick<DockerEngine, 'inspectContainer'>,
    private readonly network: string,
  ) {}

  /** Something happened to this container (start, stop, rename, health, network change). */
  forget(id: string): void {
    this.inspected.delete(id);
  }

  /** The names of the containers attached to the network (as `docker network inspect` lists them). */
  async tableOf(info: NetworkInfo): Promise<Map<string, number[]>> {
    const attached = Object.entries(info.Containers ?? {});
    for (const id of this.inspected.keys()) if (!(info.Containers && id in info.Containers)) this.inspected.delete(id);
    const unknown = attached.map(([id]) => id).filter((id) => !this.inspected.has(id));
    for (let i = 0; i < unknown.length; i += INSPECTS_AT_ONCE) {
      await Promise.all(unknown.slice(i, i + INSPECTS_AT_ONCE).map(async (id) => {
        const found = await this.engine.inspectContainer(id);
        if (found) this.inspected.set(id, found); // else removed meanwhile
      }));
    }
    const containers: { names: string[]; ip: number }[] = [];
    for (const [id, endpoint] of attached) {
      const details = this.inspected.get(id);
      if (!details) continue;
      let ip: number;
      try {
        ip = parseIp(endpoint.IPv4Address?.split('/')[0] ?? '');
      } catch {
        continue; // no IPv4 address on this network
      }
      containers.push({ names: namesOfContainer(details, this.network), ip });
    }
    return nameTable(containers);
  }
}
