/** listen: the UDP socket tunnels run over. */
import { bool, field, type Field, int, section, unsupported } from './schema.js';
import { configError, isAbsent, readBool, readText } from './values.js';

export type SendRecvError = 'always' | 'never' | 'private';

/** "always", "never", "private", or the older boolean form (true = always). */
const sendRecvError: Field<SendRecvError> = field('send_recv_error', (value, path) => {
  if (isAbsent(value)) return 'always';
  if (value === 'always' || value === 'never' || value === 'private') return value;
  try {
    return readBool(value, path, true) ? 'always' : 'never';
  } catch {
    throw configError(path, 'always, never, private (or a boolean)', value);
  }
});

/** An IP address; IPv6 may be written in [brackets]. */
const host = field('host', (value, path) => {
  let text = readText(value, path, '0.0.0.0');
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (text === '') throw configError(path, 'an IP address', value);
  return text;
});

/**
 * What a node asks for when listen.read_buffer/write_buffer are 0: a full 208 KiB default receive
 * buffer is where a flood first costs legitimate packets. As root SO_RCVBUFFORCE grants it; otherwise
 * the kernel caps it at net.core.rmem_max/wmem_max.
 */
export const LARGE_SOCKET_BUFFER = 8 << 20;

export const listenSection = section(
  'listen',
  {
    sendRecvError,
    host,
    /** 0 = random port. */
    port: int('port', 0, { min: 0, max: 65535 }),
    batch: int('batch', 64, { min: 1, max: 65535 }),
    /** 0 = LARGE_SOCKET_BUFFER, as far as the kernel allows. */
    readBuffer: int('read_buffer', 0, { min: 0 }),
    writeBuffer: int('write_buffer', 0, { min: 0 }),
    /** mesh only: UDP GSO and GRO. */
    offload: bool('offload', true),
  },
  { ignored: { routines: unsupported('deprecated in nebula; use routines') } },
);
