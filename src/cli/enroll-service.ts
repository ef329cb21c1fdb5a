/**
 * `mesh ca serve`: the enrollment service, run where the CA key is. HTTPS with its own
 * self-signed certificate (made on the first start, pinned by the tokens), JSON requests:
 *
 * - POST /v1/join  {token, name, public_key, subnet} → {certificate, ca, config}
 * - POST /v1/renew {certificate, timestamp, proof}   → {certificate, ca}
 *
 * The service's state sits next to the CA key (`ca.key` → `ca.serve.json`: the advertised address,
 * the TLS certificate and key, the X25519 key renewals are proven against); the allocations are
 * the CA's ledger, shared with `mesh ca sign`.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { describeFsError, UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseIp } from '../net/ipv4.js';
import { bytesToHex, certificateFingerprint, CertificateError, hexToBytes, type Certificate } from '../../pki/cert.js';
import { joinHost, renewHost, type Issuer } from '../../pki/enroll-issue.js';
import { decodeToken, EnrollmentError } from '../../pki/enroll-token.js';
import { writeOutputFiles } from '../../pki/files.js';
import { readServiceState, type ServiceState } from './enroll-state.js';
import { encodeCertificatePem, generateX25519KeyPair, parseCertificatePem, x25519PublicFromPrivate } from '../../pki/keys.js';
import { formatIpNetwork } from '../net/ip.js';
import { parseYaml, stringifyYaml } from '../yaml.js';

/** A self-signed TLS certificate for the service; trust comes from the pin, so it names nothing that matters. */
async function makeTlsCertificate(): Promise<{ cert: string; key: string; pin: string }> {
  const { default: forge } = await import('node-forge');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 20 * 365 * 86400_000);
  const subject = [{ name: 'commonName', value: 'mesh enrollment service' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { cert: forge.pki.certificateToPem(cert), key: privateKey, pin: createHash('sha256').update(der).digest('hex') };
}

/** The state of an earlier start with the advertised address brought up to date, or a new one. */
export async function prepareServiceState(path: string, advertise: string): Promise<ServiceState> {
  const existing = readServiceState(path);
  if (existing && existing.advertise === advertise) return existing;
  let state: ServiceState;
  if (existing) {
    state = { ...existing, advertise };
  } else {
    const tls = await makeTlsCertificate();
    state = { advertise, pin: tls.pin, tlsCert: tls.cert, tlsKey: tls.key, serviceKey: bytesToHex(generateX25519KeyPair().privateKey) };
  }
  try {
    writeOutputFiles([{ path, data: `${JSON.stringify(state, null, 2)}\n`, what: 'enrollment service state' }], true);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  return state;
}

/** The node template with what every host needs to renew; pki paths are the joining host's to fill. */
export function readTemplate(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`--template ${path}: ${describeFsError(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new UserError(`--template ${path}: not YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new UserError(`--template ${path}: expected a node configuration (a YAML mapping)`);
  return parsed as Record<string, unknown>;
}

/** Overlay IPs the template uses (its static_host_map: lighthouses, relays), never handed out. */
export function templateAddresses(template: Record<string, unknown>): number[] {
  const map = template.static_host_map;
  if (!map || typeof map !== 'object') return [];
  return Object.keys(map).flatMap((ip) => {
    try {
      return [parseIp(ip)];
    } catch {
      return [];
    }
  });
}

export interface ServiceOptions {
  issuer: Issuer;
  state: ServiceState;
  templatePath: string;
  caPem: string;
  log: Logger;
}

const MAX_BODY = 64 * 1024;

export function startEnrollmentService(options: ServiceOptions, listen: { host: string; port: number }): Promise<Server> {
  const { issuer, state, log } = options;
  const serviceKey = hexToBytes(state.serviceKey);
  const enrollmentSection = { server: state.advertise, pin: state.pin, service_key: bytesToHex(x25519PublicFromPrivate(serviceKey)) };

  const issued = (cert: Certificate, what: string) => {
    const d = cert.details;
    log.info({ name: d.name, ip: d.networks.map(formatIpNetwork).join(','), subnets: d.unsafeNetworks.map(formatIpNetwork).join(','), groups: d.groups.join(','), fingerprint: certificateFingerprint(cert), notAfter: new Date(d.notAfter * 1000).toISOString() }, what);
  };

  const handle = (path: string, body: Record<string, unknown>): Record<string, unknown> => {
    if (path === '/v1/join') {
      const token = decodeToken(text(body.token, 'token'));
      const publicKey = text(body.public_key, 'public_key');
      if (!/^[0-9a-f]{64}$/.test(publicKey)) throw new EnrollmentError('public_key: expected 64 hex digits (an X25519 public key)', 400);
      const template = readTemplate(options.templatePath);
      const issuerNow: Issuer = { ...issuer, reserved: [...issuer.reserved, ...templateAddresses(template)] };
      const cert = joinHost(issuerNow, { tokenId: token.id, secret: token.secret, name: optionalText(body.name, 'name'), hostName: optionalText(body.default_name, 'default_name'), publicKey: hexToBytes(publicKey), wantSubnet: body.subnet === true }, new Date());
      issued(cert, 'host joined');
      const config = { ...template, enrollment: enrollmentSection };
      return { certificate: encodeCertificatePem(cert), ca: options.caPem, config: stringifyYaml(config) };
    }
    if (path === '/v1/renew') {
      let cert: Certificate;
      try {
        cert = parseCertificatePem(text(body.certificate, 'certificate'));
      } catch (err) {
        throw new EnrollmentError(`certificate: ${(err as Error).message}`, 400);
      }
      const timestamp = typeof body.timestamp === 'number' ? body.timestamp : NaN;
      const renewed = renewHost(issuer, serviceKey, { cert, timestamp, proof: text(body.proof, 'proof') }, new Date());
      issued(renewed, 'certificate renewed');
      return { certificate: encodeCertificatePem(renewed), ca: options.caPem };
    }
    throw new EnrollmentError(`no such endpoint: ${path}`, 404);
  };

  const server = createServer({ cert: state.tlsCert, key: state.tlsKey, requestTimeout: 15_000 }, (req, res) => {
    const reply = (status: number, answer: Record<string, unknown>) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    };
    if (req.method !== 'POST') return reply(405, { error: 'use POST' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reply(413, { error: 'request too large' });
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      let body: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        body = parsed as Record<string, unknown>;
      } catch {
        return reply(400, { error: 'the request is not a JSON object' });
      }
      try {
        reply(200, handle(req.url ?? '', body));
      } catch (err) {
        const remote = req.socket.remoteAddress;
        if (err instanceof EnrollmentError) {
          log.warn({ remote, path: req.url, reason: err.message }, 'enrollment refused');
          return reply(err.status, { error: err.message });
        }
        if (err instanceof CertificateError || err instanceof UserError) {
          log.warn({ remote, path: req.url, reason: err.message }, 'enrollment failed');
          return reply(409, { error: err.message });
        }
        log.error({ remote, path: req.url, err }, 'enrollment: internal error');
        reply(500, { error: 'internal error, see the service log' });
      }
    });
  });
  server.on('tlsClientError', (err) => log.debug({ reason: err.message }, 'enrollment: TLS handshake failed'));
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new UserError(`--listen ${listen.host}:${listen.port}: ${err.message}`)));
    server.listen(listen.port, listen.host, () => resolve(server));
  });
}

function text(value: unknown, key: string): string {
  if (typeof value !== 'string') throw new EnrollmentError(`${key}: expected a string`, 400);
  return value;
}

function optionalText(value: unknown, key: string): string | null {
  return value === undefined || value === null ? null : text(value, key);
}
