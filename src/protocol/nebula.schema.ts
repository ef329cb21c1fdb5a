// Generated from nebula.proto by scripts/proto.mjs (npm run proto): do not edit.
// The messages as data: what the strict wire check and the value checks know of them.
import type { MessageSchema } from './protobuf.js';

export const Ip4AndPort: MessageSchema = {
  name: 'Ip4AndPort',
  fields: [
    { id: 1, name: 'ip', type: 'uint32' },
    { id: 2, name: 'port', type: 'uint32' },
  ],
};

export const Ip6AndPort: MessageSchema = {
  name: 'Ip6AndPort',
  fields: [
    { id: 1, name: 'hi', type: 'uint64' },
    { id: 2, name: 'lo', type: 'uint64' },
    { id: 3, name: 'port', type: 'uint32' },
  ],
};

export const Addr: MessageSchema = {
  name: 'Addr',
  fields: [
    { id: 1, name: 'hi', type: 'uint64' },
    { id: 2, name: 'lo', type: 'uint64' },
  ],
};

export const MeshSubnet: MessageSchema = {
  name: 'MeshSubnet',
  fields: [
    { id: 1, name: 'ip', type: 'uint32' },
    { id: 2, name: 'bits', type: 'uint32' },
  ],
};

export const MeshName: MessageSchema = {
  name: 'MeshName',
  fields: [
    { id: 1, name: 'name', type: 'string' },
    { id: 2, name: 'ips', type: 'uint32', repeated: true },
  ],
};

export const MeshNameTable: MessageSchema = {
  name: 'MeshNameTable',
  fields: [
    { id: 1, name: 'epoch', type: 'uint32' },
    { id: 2, name: 'version', type: 'uint32' },
    { id: 3, name: 'chunk', type: 'uint32' },
    { id: 4, name: 'chunks', type: 'uint32' },
  ],
};

export const MeshTunnel: MessageSchema = {
  name: 'MeshTunnel',
  fields: [
    { id: 1, name: 'peerIp', type: 'uint32' },
    { id: 2, name: 'relayIp', type: 'uint32' },
    { id: 3, name: 'rttMicros', type: 'uint32' },
    { id: 4, name: 'ageSeconds', type: 'uint32' },
  ],
};

export const NebulaMetaDetails: MessageSchema = {
  name: 'NebulaMetaDetails',
  fields: [
    { id: 1, name: 'vpnIp', type: 'uint32' },
    { id: 2, name: 'ip4AndPorts', type: Ip4AndPort, repeated: true },
    { id: 3, name: 'counter', type: 'uint32' },
    { id: 4, name: 'ip6AndPorts', type: Ip6AndPort, repeated: true },
    { id: 5, name: 'relayVpnIps', type: 'uint32', repeated: true },
    { id: 6, name: 'vpnAddr', type: Addr },
    { id: 7, name: 'relayVpnAddrs', type: Addr, repeated: true },
    { id: 100, name: 'meshSubnets', type: MeshSubnet, repeated: true },
    { id: 101, name: 'meshNames', type: MeshName, repeated: true },
    { id: 102, name: 'meshNameTable', type: MeshNameTable },
    { id: 103, name: 'meshRevocationList', type: 'bytes' },
    { id: 104, name: 'meshTunnels', type: MeshTunnel, repeated: true },
    { id: 105, name: 'meshTunnelsTotal', type: 'uint32' },
    { id: 106, name: 'meshNatMapping', type: 'uint32' },
  ],
};

export const NebulaMeta: MessageSchema = {
  name: 'NebulaMeta',
  fields: [
    { id: 1, name: 'type', type: 'int32' },
    { id: 2, name: 'details', type: NebulaMetaDetails },
  ],
};

export const NebulaHandshakeDetails: MessageSchema = {
  name: 'NebulaHandshakeDetails',
  fields: [
    { id: 1, name: 'cert', type: 'bytes' },
    { id: 2, name: 'initiatorIndex', type: 'uint32' },
    { id: 3, name: 'responderIndex', type: 'uint32' },
    { id: 4, name: 'cookie', type: 'uint64' },
    { id: 5, name: 'time', type: 'uint64' },
    { id: 8, name: 'certVersion', type: 'uint32' },
  ],
};

export const NebulaHandshake: MessageSchema = {
  name: 'NebulaHandshake',
  fields: [
    { id: 1, name: 'details', type: NebulaHandshakeDetails },
    { id: 2, name: 'hmac', type: 'bytes' },
  ],
};

export const NebulaControl: MessageSchema = {
  name: 'NebulaControl',
  fields: [
    { id: 1, name: 'type', type: 'int32' },
    { id: 2, name: 'initiatorRelayIndex', type: 'uint32' },
    { id: 3, name: 'responderRelayIndex', type: 'uint32' },
    { id: 4, name: 'relayToIp', type: 'uint32' },
    { id: 5, name: 'relayFromIp', type: 'uint32' },
    { id: 6, name: 'relayToAddr', type: Addr },
    { id: 7, name: 'relayFromAddr', type: Addr },
  ],
};
