/**
 * The entry of the small start-up snapshot (dist/bundle/mesh-tools.blob) that the launcher starts the
 * short-lived commands from (TOOL_COMMANDS: `mesh ca`, `status`, `ping`, `reload`). Built as
 * src/cli/snapshot.ts is, with their modules only: a start from a blob costs ~15-20 ms per MB of it
 * here, and none of the daemons' code, nor the YAML and logging packages that `mesh ca serve`
 * alone loads (scripts/bundle.mjs leaves those to be required on first use), is in this one.
 * The same rules hold: no process state in the snapshot.
 */
import { certificateToJson, certificateToText } from '../../pki/cert.js';
import { TOOL_COMMANDS } from './tool-commands.js';
import { buildProgram } from './main.js';
import { startFromSnapshot, warmUpCertificate } from './snapshot-start.js';

// A failure rejects unhandled: node exits non-zero and writes no blob (build-snapshot.mjs warns).
void Promise.all(Object.keys(TOOL_COMMANDS).map((name) => buildProgram([name], TOOL_COMMANDS))).then(() => {
  // `mesh ca print`'s code, both outputs.
  const cert = warmUpCertificate();
  certificateToText(cert);
  certificateToJson(cert);
  startFromSnapshot(TOOL_COMMANDS);
});
