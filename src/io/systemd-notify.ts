/**
 * Service-manager notifications (sd_notify(3)) for a `Type=notify` unit: READY=1 once the node is
 * up, RELOADING=1 / READY=1 around a SIGHUP reload, STOPPING=1 on the way down.
 *
 * They go to the datagram socket in $NOTIFY_SOCKET through systemd's own systemd-notify(1). Node has
 * no AF_UNIX datagram sockets, and the npm bindings that add one (sd-notify, unix-dgram) are native
 * modules without prebuilds, built by install scripts that a global npm install does not run. Since
 * the sender is then a child process, the units set `NotifyAccess=all`; systemd-notify waits until
 * the service manager has read each message (its default since systemd 246).
 */
import { execFile } from 'node:child_process';

export interface ServiceNotifier {
  /** Whether there is a service manager to notify ($NOTIFY_SOCKET is set). */
  readonly active: boolean;
  ready(): Promise<void>;
  reloading(): Promise<void>;
  stopping(): Promise<void>;
}

const NOTIFY_TIMEOUT_MS = 10_000;

/**
 * A notifier for $NOTIFY_SOCKET in `env`; without it every call does nothing. A message that cannot
 * be sent goes to `warn` and never stops the node.
 */
export function serviceNotifier(warn: (message: string) => void, env: NodeJS.ProcessEnv = process.env): ServiceNotifier {
  const socket = env.NOTIFY_SOCKET;
  const send = (fields: string[]): Promise<void> =>
    new Promise((resolve) => {
      if (!socket) return resolve();
      execFile('systemd-notify', fields, { env, timeout: NOTIFY_TIMEOUT_MS }, (err, _stdout, stderr) => {
        if (err) warn(`systemd-notify ${fields.join(' ')} failed: ${stderr.trim() || err.message}`);
        resolve();
      });
    });
  return {
    active: Boolean(socket),
    ready: () => send(['READY=1']),
    // systemd matches a reload to its start by the CLOCK_MONOTONIC time (node's hrtime clock).
    reloading: () => send(['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`]),
    stopping: () => send(['STOPPING=1']),
  };
}
