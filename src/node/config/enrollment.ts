/**
 * enrollment: a mesh extension (Nebula ignores the section), written by `mesh join`: where the
 * enrollment service that issued this host's certificate is, so the running node renews it there
 * before it expires.
 */
import { duration, field, section } from './schema.js';
import { configError, isAbsent, readHostPort, readText } from './values.js';

function hex64(key: string, what: string) {
  return field(key, (value, path) => {
    const text = readText(value, path, '').trim().toLowerCase();
    if (text !== '' && !/^[0-9a-f]{64}$/.test(text)) throw configError(path, what, value);
    return text;
  });
}

export const enrollmentSection = section(
  'enrollment',
  {
    /** The service's HOST:PORT; '' = no automatic renewal. */
    server: field('server', (value, path) => {
      if (isAbsent(value) || value === '') return '';
      const text = readText(value, path, '');
      readHostPort(text, path, false);
      return text.trim();
    }),
    /** SHA-256 of the service's TLS certificate. */
    pin: hex64('pin', 'the SHA-256 of the service\'s TLS certificate (64 hex digits)'),
    /** The service's X25519 public key, which renewal requests are proven against. */
    serviceKey: hex64('service_key', 'the service\'s X25519 public key (64 hex digits)'),
    /** How long before expiry to renew; 0: when a third of the certificate's lifetime is left. */
    renewBefore: duration('renew_before', 0),
  },
  {
    finish: (enrollment, _warnings, _raw, path) => {
      if (enrollment.server !== '' && (enrollment.pin === '' || enrollment.serviceKey === '')) {
        throw configError(`${path}.server`, 'set together with enrollment.pin and enrollment.service_key (as `mesh join` writes them)', enrollment.server);
      }
      return enrollment;
    },
  },
);
