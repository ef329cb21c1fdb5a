/** punchy: hole punching towards hosts behind NAT. */
import { bool, duration, optional, section } from './schema.js';
import { readBool } from './values.js';

/** `respond` is null when not set: it then follows the deprecated top-level punch_back. */
export const punchySection = section(
  'punchy',
  {
    punch: bool('punch', false),
    respond: optional(bool('respond')),
    delay: duration('delay', 1000),
    /** nebula 1.7's key; 1.6 always waits 5 s. */
    respondDelay: duration('respond_delay', 5000),
  },
  // Nebula's older form "punchy: true".
  { shorthand: (value, path) => ({ punch: readBool(value, path, false) }) },
);
