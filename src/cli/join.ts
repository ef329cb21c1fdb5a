/**
 * `mesh join TOKEN`: a new host joins the mesh in one command. The X25519 key is made here and
 * never leaves the host; the enrollment service named by the token (`mesh ca serve`, its TLS
 * certificate pinned by the token) answers with the certificate, the CA and a node config, which
 * are written to --dir atomically (all four files or none, mode 0600).
 */
import { hostname } from 'node:os';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { UserError } from '../errors.js';
import { bytesToHex, CertificateError, type Certificate } from '../../pki/cert.js';
import { decodeToken } from '../../pki/enroll-token.js';
import { checkOutputsAbsent, writeOutputFiles } from '../../pki/files.js';
import { encodeX25519PrivateKeyPem, generateX25519KeyPair, parseCertificatePem } from '../../pki/keys.js';
import { CAPool } from '../../pki/ca-pool.js';
import { formatIpNetwork } from '../net/ip.js';
import { parseYaml, stringifyYaml } from '../yaml.js';

interface JoinOptions {
  name?: string;
  dir: string;
  dockerBridge?: string;
  start?: boolean;
  force?: boolean;
}

async function joinAction(tokenText: string, opts: JoinOptions, command: Command): Promise<void> {
  let token;
  try {
    token = decodeToken(tokenText);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  const dir = resolve(opts.dir);
  const paths = { ca: join(dir, 'ca.crt'), cert: join(dir, 'host.crt'), key: join(dir, 'host.key'), config: join(dir, 'config.yml') };
  const outputs = [
    { path: paths.ca, what: 'CA certificate' },
    { path: paths.cert, what: 'certificate' },
    { path: paths.key, what: 'key' },
    { path: paths.config, what: 'config' },
  ];
  const force = opts.force === true;
  // Checked before the token is spent.
  try {
    checkOutputsAbsent(outputs, force);
  } catch (err) {
    throw new UserError(`${(err as Error).message} (use --force to replace it)`);
  }
  const { postEnrollment } = await import('./enroll-client.js');
  const keys = generateX25519KeyPair();
  const answer = await postEnrollment(token.server, token.pin, '/v1/join', {
    token: tokenText.trim(),
    name: opts.name ?? null,
    default_name: hostname(),
    public_key: bytesToHex(keys.publicKey),
    subnet: opts.dockerBridge !== undefined,
  });
  const { cert, caPem, config } = checkAnswer(answer, keys.publicKey, token.server);
  config.pki = { ca: paths.ca, cert: paths.cert, key: paths.key };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeOutputFiles(
      [
        { path: paths.ca, data: caPem, what: 'CA certificate' },
        { path: paths.cert, data: String(answer.certificate), what: 'certificate' },
        { path: paths.key, data: encodeX25519PrivateKeyPem(keys.privateKey), what: 'key' },
        { path: paths.config, data: stringifyYaml(config), what: 'config' },
      ],
      force,
    );
  } catch (err) {
    throw new UserError(`${(err as Error).message}; the certificate was issued: join again with a token, the name keeps its IP`);
  }
  const d = cert.details;
  const run = `mesh node -c ${paths.config}${opts.dockerBridge !== undefined ? ` --docker-bridge ${opts.dockerBridge}` : ''}`;
  process.stdout.write(
    `joined as "${d.name}": ${d.networks.map(formatIpNetwork).join(', ')}` +
      (d.unsafeNetworks.length > 0 ? `, container subnet ${d.unsafeNetworks.map(formatIpNetwork).join(', ')}` : '') +
      `, groups ${d.groups.join(',') || '(none)'}, valid until ${new Date(d.notAfter * 1000).toISOString()}\n` +
      `wrote ${paths.ca}, ${paths.cert}, ${paths.key}, ${paths.config}\n` +
      (opts.start ? '' : `start it with: ${run}\n(systemd: ExecStart=${process.execPath} ${process.argv[1] ?? 'mesh'} node -c ${paths.config}${opts.dockerBridge !== undefined ? ` --docker-bridge ${opts.dockerBridge}` : ''})\n`),
  );
  if (opts.start) {
    const { runNode } = await import('./node.js');
    await runNode({ ...command.optsWithGlobals(), config: paths.config, dockerBridge: opts.dockerBridge, force: false });
  }
}

/** The service's answer, checked: a certificate for our key signed by the CA it sent, and a config mapping. */
function checkAnswer(answer: Record<string, unknown>, publicKey: Uint8Array, server: string): { cert: Certificate; caPem: string; config: Record<string, unknown> } {
  const bad = (what: string) => new UserError(`enrollment server ${server}: ${what}`);
  let cert: Certificate;
  let pool: CAPool;
  try {
    cert = parseCertificatePem(String(answer.certificate));
    pool = CAPool.fromPem(String(answer.ca));
    pool.verify(cert, new Date());
  } catch (err) {
    throw bad(`the certificate it sent does not verify: ${err instanceof CertificateError || err instanceof Error ? err.message : String(err)}`);
  }
  if (bytesToHex(cert.details.publicKey) !== bytesToHex(publicKey)) throw bad('the certificate it sent is for another key');
  let config: unknown;
  try {
    config = parseYaml(String(answer.config ?? ''));
  } catch (err) {
    throw bad(`the config it sent is not YAML: ${(err as Error).message}`);
  }
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw bad('the config it sent is not a mapping');
  return { cert, caPem: String(answer.ca), config: config as Record<string, unknown> };
}

export function joinCommand(): Command {
  return new Command('join')
    .description('join a mesh with a token from `mesh ca token create`: makes a key here, gets a certificate, the CA and a node config from the enrollment service')
    .argument('<token>', 'the token printed by `mesh ca token create`')
    .option('--name <name>', 'the host\'s name in the mesh (default: this machine\'s host name, unless the token fixes it)')
    .option('--dir <path>', 'where to write ca.crt, host.crt, host.key and config.yml', '/etc/mesh')
    .option('--docker-bridge <network>', 'this host runs Docker: ask for a container subnet and, with --start, give Docker a bridge network of this name on it')
    .option('--start', 'run the node once joined (in the foreground, like `mesh node`)')
    .option('--force', 'replace existing files in --dir')
    .action(joinAction);
}
