/** tun: the virtual network interface, and the routes through it. */
import { bool, field, type FieldValue, int, laterNebula, mapping, mappingList, required, section, unsupported } from './schema.js';
import { configError, isAbsent, readCidr4, readCidrAny, readInt, readText, readVpnAddr } from './values.js';

const route = mapping({
  mtu: required(int('mtu', 0, { min: 500, max: 65535 })),
  route: required(field('route', readCidr4)),
});

const unsafeRoute = mapping(
  {
    /** Overlay address of the node that routes this network (IPv4, or IPv6 with v2 certificates). */
    via: required(field('via', readVpnAddr)),
    /** IPv4, or IPv6 (Nebula 1.10+). */
    route: required(field('route', readCidrAny)),
    /** 0 = use tun.mtu. */
    mtu: field('mtu', (value, path) => {
      const mtu = readInt(value, path, 0, { min: 0, max: 65535 });
      if (mtu !== 0 && mtu < 500) throw configError(path, 'an integer >= 500 (or 0 for tun.mtu)', value);
      return mtu;
    }),
    metric: int('metric', 0, { min: 0, max: 2147483647 }),
  },
  { ignored: { install: 'only exists in nebula 1.7+, ignored' } },
);

/** An interface name as the kernel takes it; absent or "" lets the OS choose (null). */
const dev = field('dev', (value, path) => {
  if (isAbsent(value) || value === '') return null;
  const name = readText(value, path, '');
  if (name.length > 15 || !/^[A-Za-z0-9_.%-]+$/.test(name)) {
    throw configError(path, 'an interface name of at most 15 letters, digits, "_", "-", "." or "%d"', value);
  }
  return name;
});

export const tunSection = section(
  'tun',
  {
    mtu: int('mtu', 1300, { min: 500, max: 65535 }),
    dev,
    routes: mappingList('routes', route),
    unsafeRoutes: mappingList('unsafe_routes', unsafeRoute),
    disabled: bool('disabled', false),
    txQueue: int('tx_queue', 500, { min: 0 }),
    dropLocalBroadcast: bool('drop_local_broadcast', false),
    dropMulticast: bool('drop_multicast', false),
    /** mesh only: kernel offloads (virtio_net_hdr, TSO/USO, coalesced writes). */
    offload: bool('offload', true),
    /** mesh only: established, firewall-approved flows on direct tunnels forwarded natively (native/src/fastpath.cc). */
    fastPath: bool('fast_path', true),
    /** mesh only: queued packets read in io_uring batches (native/src/uring_reads.cc) where the kernel allows it. */
    ioUring: bool('io_uring', true),
  },
  { ignored: { routines: unsupported('deprecated in nebula; use routines'), use_system_route_table: laterNebula('1.7') } },
);

export type TunConfig = FieldValue<typeof tunSection>;
