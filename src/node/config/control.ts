/** control: the local control socket that `mesh status`, `mesh ping` and `mesh reload` talk to (a mesh key). */
import { section, text } from './schema.js';

export const controlSection = section('control', {
  /** "" = /run/mesh/<tun.dev>.sock (/run/mesh/netns-<name>/ in a named network namespace), or one named after the config file with tun.disabled (see controlSocketPath). */
  socket: text('socket', ''),
});
