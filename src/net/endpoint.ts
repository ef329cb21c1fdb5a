/** An underlay UDP address: what datagrams come from and go to. */
export interface Endpoint {
  address: string;
  port: number;
}

export function endpointKey(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

export function sameEndpoint(a: Endpoint | null | undefined, b: Endpoint | null | undefined): boolean {
  return !!a && !!b && a.port === b.port && a.address === b.address;
}
