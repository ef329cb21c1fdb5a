/** handshakes: how tunnels are set up. */
import { duration, int, section } from './schema.js';

export const handshakesSection = section('handshakes', {
  tryInterval: duration('try_interval', 100, { positive: true }),
  retries: int('retries', 10, { min: 0 }),
  triggerBuffer: int('trigger_buffer', 64, { min: 1 }),
});
