/** handshakes: how tunnels are set up. */
import { duration, int, section } from './schema.js';

export const handshakesSection = section('handshakes', {
  tryInterval: duration('try_interval', 100, { positive: true }),
  retries: int('retries', 10, { min: 0 }),
  triggerBuffer: int('trigger_buffer', 64, { min: 1 }),
  // Certificate checks of message 1s from new peers per second, all sources together, and the burst
  // saved up: above what one core completes of genuine handshakes, so only a flood meets it.
  incomingPerSecond: int('incoming_per_second', 2000, { min: 1 }),
  incomingBurst: int('incoming_burst', 4000, { min: 1 }),
});
