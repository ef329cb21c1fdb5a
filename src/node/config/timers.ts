/** timers: how tunnels are kept alive and torn down. */
import { section, seconds } from './schema.js';

export const timersSection = section('timers', {
  connectionAliveInterval: seconds('connection_alive_interval', 5, { positive: true }),
  pendingDeletionInterval: seconds('pending_deletion_interval', 10, { positive: true }),
});
