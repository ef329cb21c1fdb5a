/** stun: a mesh extension (Nebula ignores the section): STUN for NAT discovery. */
import { int, section, seconds } from './schema.js';

export const stunSection = section('stun', {
  /** Lighthouse: second UDP port answering STUN, named in OTHER-ADDRESS (RFC 5780); 0 = none. */
  alternatePort: int('alternate_port', 0, { min: 0, max: 65535 }),
  /** Node: how often to ask the lighthouses for our reflexive address; 0 = never. */
  interval: seconds('interval', 60),
});
