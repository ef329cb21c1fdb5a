/** relay: reaching hosts through a relay when no direct path works, and being one. */
import { bool, list, section } from './schema.js';
import { readVpnAddr } from './values.js';

export const relaySection = section(
  'relay',
  {
    amRelay: bool('am_relay', false),
    /** VPN IPs of the relays other hosts may use to reach this node. */
    relays: list('relays', readVpnAddr),
    useRelays: bool('use_relays', true),
  },
  {
    finish: (relay, warnings, _raw, path) => {
      if (relay.amRelay && relay.relays.length > 0) warnings.add(`${path}.relays`, 'ignored because relay.am_relay is true');
      return relay;
    },
  },
);
