/**
 * node-forge's PEM and util modules on their own: `node-forge` itself loads every algorithm it has
 * (~0.9 MB of code) where mesh needs only PEM armor.
 */
declare module 'node-forge/lib/pem.js' {
  import type forge from 'node-forge';
  const pem: typeof forge.pem;
  export default pem;
}

declare module 'node-forge/lib/util.js' {
  import type forge from 'node-forge';
  const util: typeof forge.util;
  export default util;
}
