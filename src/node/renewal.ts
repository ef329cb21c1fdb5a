/**
 * Automatic certificate renewal (config `enrollment`): when a third of the certificate's
 * lifetime is left (or `enrollment.renew_before`), ask the enrollment service for a new one; on
 * failure, log how much time is left and try again, more often as expiry nears. Fetching,
 * writing and reloading the certificate are the composition root's (`renew`); reloading keeps
 * the tunnels up (MeshNode.reload).
 */
import type { Logger } from 'pino';
import type { Certificate } from '../../pki/cert.js';
import type { Timer, Timers } from './timers.js';

export interface RenewalDeps {
  timers: Timers;
  log: Logger;
  /** The certificate the node runs with now. */
  certificate(): Certificate;
  /** Gets a new certificate and puts it in use; rejects with the reason it could not. */
  renew(): Promise<void>;
  /** Milliseconds before expiry to renew; 0: a third of the lifetime. */
  renewBeforeMs: number;
}

const MIN_RETRY_MS = 5_000;
const MAX_RETRY_MS = 5 * 60_000;

/** When to renew `cert`, in epoch milliseconds. */
export function renewalTime(cert: Certificate, renewBeforeMs: number): number {
  const notBefore = cert.details.notBefore * 1000;
  const notAfter = cert.details.notAfter * 1000;
  const before = renewBeforeMs > 0 ? renewBeforeMs : (notAfter - notBefore) / 3;
  return notAfter - before;
}

export class CertificateRenewal {
  private timer: Timer | null = null;
  private stopped = false;

  constructor(private readonly deps: RenewalDeps) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  /**
   * Plans the next attempt for the certificate in use (a SIGHUP may have replaced it); `minDelayMs`
   * keeps a service that issues too short certificates from being asked in a tight loop.
   */
  schedule(minDelayMs = 0): void {
    if (this.stopped) return;
    this.timer?.cancel();
    const cert = this.deps.certificate();
    const at = renewalTime(cert, this.deps.renewBeforeMs);
    this.deps.log.debug({ at: new Date(at).toISOString(), expires: new Date(cert.details.notAfter * 1000).toISOString() }, 'certificate renewal planned');
    this.timer = this.deps.timers.after(Math.max(minDelayMs, at - this.deps.timers.now()), () => void this.attempt());
  }

  private async attempt(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    const before = this.deps.certificate();
    if (renewalTime(before, this.deps.renewBeforeMs) > this.deps.timers.now()) return this.schedule();
    try {
      await this.deps.renew();
    } catch (err) {
      if (this.stopped) return;
      const leftMs = before.details.notAfter * 1000 - this.deps.timers.now();
      const retryMs = Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, leftMs / 10));
      this.deps.log.warn(
        { reason: err instanceof Error ? err.message : String(err), expires: new Date(before.details.notAfter * 1000).toISOString(), timeLeftSeconds: Math.max(0, Math.round(leftMs / 1000)), retryInSeconds: Math.round(retryMs / 1000) },
        leftMs > 0 ? 'certificate renewal failed, will retry' : 'certificate renewal failed and the certificate has expired; tunnels fail until it is renewed or replaced',
      );
      this.timer = this.deps.timers.after(retryMs, () => void this.attempt());
      return;
    }
    const after = this.deps.certificate();
    this.deps.log.info({ expires: new Date(after.details.notAfter * 1000).toISOString() }, 'certificate renewed');
    this.schedule(MIN_RETRY_MS);
  }
}
