// Generated from cert.proto by scripts/proto.mjs (npm run proto): do not edit.
// The messages as data: what the strict wire check and the value checks know of them.
import type { MessageSchema } from '../src/protocol/protobuf.js';

export const RawNebulaCertificateDetails: MessageSchema = {
  name: 'RawNebulaCertificateDetails',
  fields: [
    { id: 1, name: 'Name', type: 'string' },
    { id: 2, name: 'Ips', type: 'uint32', repeated: true },
    { id: 3, name: 'Subnets', type: 'uint32', repeated: true },
    { id: 4, name: 'Groups', type: 'string', repeated: true },
    { id: 5, name: 'NotBefore', type: 'int64' },
    { id: 6, name: 'NotAfter', type: 'int64' },
    { id: 7, name: 'PublicKey', type: 'bytes' },
    { id: 8, name: 'IsCA', type: 'bool' },
    { id: 9, name: 'Issuer', type: 'bytes' },
  ],
};

export const RawNebulaCertificate: MessageSchema = {
  name: 'RawNebulaCertificate',
  fields: [
    { id: 1, name: 'Details', type: RawNebulaCertificateDetails },
    { id: 2, name: 'Signature', type: 'bytes' },
  ],
};
