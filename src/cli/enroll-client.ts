/**
 * The client side of the enrollment service: JSON over HTTPS to a certificate pinned by its
 * SHA-256 (from the token or the node's `enrollment.pin`), so no public PKI is involved. The pin
 * is checked right after the TLS handshake, before a byte of the request (token secret, proof)
 * is sent.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect, type TLSSocket } from 'node:tls';
import { UserError } from '../errors.js';

const TIMEOUT_MS = 15_000;

/** A refusal by the service (HTTP 4xx/5xx), with its message. */
export class EnrollmentRefused extends UserError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'EnrollmentRefused';
  }
}

function splitServer(server: string): { host: string; port: number } {
  const colon = server.lastIndexOf(':');
  const port = Number(server.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`enrollment server "${server}": expected HOST:PORT`);
  return { host: server.slice(0, colon), port };
}

function connectPinned(server: string, pin: string): Promise<TLSSocket> {
  const { host, port } = splitServer(server);
  return new Promise((resolve, reject) => {
    // The certificate is self-signed: trust comes from the pin, not from a CA.
    const socket = connect({ host, port, rejectUnauthorized: false, timeout: TIMEOUT_MS });
    socket.once('timeout', () => socket.destroy(new Error('timed out')));
    socket.once('error', (err) => reject(new UserError(`enrollment server ${server}: ${err.message}`)));
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate().raw;
      const seen = raw ? createHash('sha256').update(raw).digest('hex') : '(no certificate)';
      if (seen !== pin) {
        socket.destroy();
        reject(new UserError(`enrollment server ${server}: its TLS certificate ${seen} is not the pinned one ${pin}; refusing to send anything`));
        return;
      }
      resolve(socket);
    });
  });
}

/** POSTs `body` as JSON and returns the JSON answer; a refusal becomes an EnrollmentRefused. */
export async function postEnrollment(server: string, pin: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const socket = await connectPinned(server, pin);
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      { createConnection: () => socket, method: 'POST', path, host: splitServer(server).host, headers: { 'content-type': 'application/json', 'content-length': payload.length }, timeout: TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new UserError(`enrollment server ${server}: ${err.message}`)));
        res.on('end', () => {
          socket.destroy();
          let answer: Record<string, unknown>;
          try {
            answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            reject(new UserError(`enrollment server ${server}: answered HTTP ${res.statusCode} with something that is not JSON`));
            return;
          }
          if (res.statusCode !== 200) reject(new EnrollmentRefused(`enrollment server ${server} refused: ${String(answer.error ?? `HTTP ${res.statusCode}`)}`, res.statusCode ?? 0));
          else resolve(answer);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new UserError(`enrollment server ${server}: ${err.message}`)));
    req.end(payload);
  });
}
