/**
 * `mesh ca ...`: the certificate authority commands, mirroring nebula-cert 1.6
 * (init = `nebula-cert ca`, sign, keygen, print, verify). Files are interchangeable with
 * nebula-cert's.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { formatCidr, parseCidr, type Cidr } from '../net/ipv4.js';
import { UserError } from '../errors.js';
import { certificateFingerprint, certificateToJson, certificateToText, CertificateError, type Certificate } from '../../pki/cert.js';
import { CAPool } from '../../pki/ca-pool.js';
import { DurationError, formatGoDuration, parseGoDuration } from '../../pki/duration.js';
import { checkOutputsAbsent, writeOutputFiles } from '../../pki/files.js';
import { checkNotHandedOut, chooseSubnet, ledgerPathFor, recordSubnets, withLedger } from '../../pki/subnet-ledger.js';
import {
  encodeCertificatePem,
  encodeEd25519PrivateKeyPem,
  encodeX25519PrivateKeyPem,
  encodeX25519PublicKeyPem,
  generateX25519KeyPair,
  loadCertificate,
  loadCertificates,
  loadEd25519PrivateKey,
  loadX25519PublicKey,
  isInlinePem,
  readPathOrPem,
} from '../../pki/keys.js';
import { encodeRevocationListPem, parseRevocationListPem, signRevocationList, verifyRevocationList } from '../../pki/revocation.js';
import { createCA, DEFAULT_CA_DURATION_NS, signCertificate } from '../../pki/sign.js';

/** Runs an action, turning PKI and input errors into one-line UserErrors. */
function run<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch (err) {
      if (err instanceof CertificateError || err instanceof DurationError) throw new UserError(err.message);
      throw err;
    }
  };
}

/** Splits a comma list, trimming entries and dropping empty ones (as nebula-cert does). */
function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function parseCidrs(value: string | undefined, what: string): Cidr[] {
  return splitList(value).map((text) => {
    try {
      return parseCidr(text);
    } catch (err) {
      throw new UserError(`invalid ${what} definition: ${(err as Error).message}`);
    }
  });
}

function parseDuration(text: string): bigint {
  try {
    return parseGoDuration(text);
  } catch (err) {
    throw new UserError(`--duration: ${(err as Error).message}`);
  }
}

/** Runs a loader (whose errors already name the file) and says what was being loaded. */
function loading<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CertificateError) throw new UserError(`${what}: ${err.message}`);
    throw err;
  }
}

interface InitOptions {
  name: string;
  duration: string;
  groups?: string;
  ips?: string;
  subnets?: string;
  outCrt: string;
  outKey: string;
  force?: boolean;
}

function initCommand(): Command {
  return new Command('init')
    .description('create a self-signed certificate authority (like `nebula-cert ca`)')
    .requiredOption('--name <name>', 'name of the certificate authority')
    .option('--duration <duration>', 'how long the CA is valid, Go syntax (e.g. 8760h, 1h30m, 90s)', formatGoDuration(DEFAULT_CA_DURATION_NS))
    .option('--groups <list>', 'comma separated groups; limits the groups of certificates this CA signs')
    .option('--ips <cidrs>', 'comma separated IPv4 networks; limits the IPs of certificates this CA signs')
    .option('--subnets <cidrs>', 'comma separated IPv4 networks; limits the subnets of certificates this CA signs')
    .option('--out-crt <path>', 'where to write the CA certificate', 'ca.crt')
    .option('--out-key <path>', 'where to write the CA private key', 'ca.key')
    .option('--force', 'overwrite existing output files')
    .action(
      run((opts: InitOptions) => {
        const durationNs = parseDuration(opts.duration);
        if (durationNs <= 0n) throw new UserError('--duration must be greater than 0');
        const ips = parseCidrs(opts.ips, 'ip');
        const subnets = parseCidrs(opts.subnets, 'subnet');
        const ca = createCA({ name: opts.name, durationNs, groups: splitList(opts.groups), ips, subnets });
        writeOutputFiles(
          [
            { path: opts.outKey, data: encodeEd25519PrivateKeyPem(ca.privateKey), what: 'CA key' },
            { path: opts.outCrt, data: encodeCertificatePem(ca.cert), what: 'CA cert' },
          ],
          opts.force === true,
        );
      }),
    );
}

interface SignCliOptions {
  caCrt: string;
  caKey: string;
  name: string;
  ip: string;
  groups?: string;
  subnets?: string;
  duration?: string;
  inPub?: string;
  outCrt?: string;
  outKey?: string;
  force?: boolean;
}

function signCommand(): Command {
  return new Command('sign')
    .description('create and sign a host certificate (like `nebula-cert sign`)')
    .option('--ca-crt <path>', 'the signing CA certificate', 'ca.crt')
    .option('--ca-key <path>', 'the signing CA private key', 'ca.key')
    .requiredOption('--name <name>', 'name of the certificate, usually the host name')
    .requiredOption('--ip <cidr>', 'the VPN IPv4 address and network prefix, e.g. 10.42.0.2/16')
    .option('--groups <list>', 'comma separated groups')
    .option('--subnets <cidrs>', 'comma separated IPv4 networks this host may route for (unsafe routes, its Docker containers), or "auto": the next free /24 in the CA\'s subnets, recorded in a ledger next to the CA key')
    .option('--duration <duration>', 'how long the certificate is valid, Go syntax (default: until 1 s before the CA expires)')
    .addOption(new Option('--in-pub <path>', 'sign an existing X25519 public key (from `mesh ca keygen`) instead of creating a key pair').conflicts('outKey'))
    .option('--out-crt <path>', 'where to write the certificate (default: <name>.crt)')
    .option('--out-key <path>', 'where to write the new private key (default: <name>.key)')
    .option('--force', 'overwrite existing output files')
    .action(run((opts: SignCliOptions) => signAction(opts)));
}

function signAction(opts: SignCliOptions): void {
  const caKey = loading('error while reading ca-key', () => loadEd25519PrivateKey(opts.caKey));
  const caCert = loading('error while reading ca-crt', () => loadCertificate(opts.caCrt));
  const ipList = splitList(opts.ip);
  if (ipList.length !== 1) throw new UserError(`invalid ip definition: expected one IPv4 address with prefix, got "${opts.ip}"`);
  const ips = parseCidrs(opts.ip, 'ip');
  const auto = opts.subnets?.trim() === 'auto';
  const explicitSubnets = auto ? [] : parseCidrs(opts.subnets, 'subnet');
  const durationNs = opts.duration === undefined ? undefined : parseDuration(opts.duration);
  if (durationNs !== undefined && durationNs < 0n) throw new UserError('--duration must not be negative');

  let publicKey: Uint8Array;
  let privateKey: Uint8Array | undefined;
  if (opts.inPub !== undefined) {
    const inPub = opts.inPub;
    publicKey = loading('error while reading in-pub', () => loadX25519PublicKey(inPub));
  } else {
    ({ publicKey, privateKey } = generateX25519KeyPair());
  }

  const outCrt = opts.outCrt ?? `${opts.name}.crt`;
  // Checked in this order, like nebula-cert: the certificate, then the key.
  const outputs = [{ path: outCrt, what: 'cert' }];
  if (privateKey) outputs.push({ path: opts.outKey ?? `${opts.name}.key`, what: 'key' });
  checkOutputsAbsent(outputs, opts.force === true);

  const signAndWrite = (subnets: Cidr[]) => {
    const cert = signCertificate({ caCert, caKey, name: opts.name, ips, subnets, groups: splitList(opts.groups), publicKey, ...(durationNs === undefined ? {} : { durationNs }) });
    const data = [encodeCertificatePem(cert), ...(privateKey ? [encodeX25519PrivateKeyPem(privateKey)] : [])];
    writeOutputFiles(outputs.map((o, i) => ({ ...o, data: data[i]! })), opts.force === true);
  };
  if (!auto && explicitSubnets.length === 0) return signAndWrite([]);
  // Subnets go through the ledger, so that no two hosts get the same one.
  if (isInlinePem(opts.caKey)) {
    if (auto) throw new UserError('--subnets auto needs --ca-key as a file: the subnet ledger is kept next to it');
    return signAndWrite(explicitSubnets);
  }
  const ledger = ledgerPathFor(opts.caKey);
  withLedger(ledger, (entries) => {
    const subnets = auto ? [chooseSubnet(caCert.details.subnets, entries, opts.name)] : explicitSubnets;
    if (!auto) checkNotHandedOut(subnets, entries, opts.name);
    signAndWrite(subnets);
    if (auto) process.stdout.write(`${opts.name}: subnet ${subnets.map(formatCidr).join(', ')} (recorded in ${ledger})\n`);
    return { entries: recordSubnets(entries, opts.name, subnets, new Date()), result: undefined };
  });
}

function keygenCommand(): Command {
  return new Command('keygen')
    .description('create an X25519 key pair for a host; sign the public key with `mesh ca sign --in-pub`')
    .requiredOption('--out-key <path>', 'where to write the private key')
    .requiredOption('--out-pub <path>', 'where to write the public key')
    .option('--force', 'overwrite existing output files')
    .action(
      run((opts: { outKey: string; outPub: string; force?: boolean }) => {
        const pair = generateX25519KeyPair();
        writeOutputFiles(
          [
            { path: opts.outKey, data: encodeX25519PrivateKeyPem(pair.privateKey), what: 'key' },
            { path: opts.outPub, data: encodeX25519PublicKeyPem(pair.publicKey), what: 'public key' },
          ],
          opts.force === true,
        );
      }),
    );
}

function printCommand(): Command {
  return new Command('print')
    .description('print the certificates in a file (like `nebula-cert print`)')
    .requiredOption('--path <path>', 'the certificate file')
    .option('--json', 'print one JSON object per certificate, in the format of `nebula-cert print -json`')
    .action(
      run((opts: { path: string; json?: boolean }) => {
        const certs = loading('error while reading cert', () => loadCertificates(opts.path));
        const out = certs.map((c) => (opts.json ? certificateToJson(c) : certificateToText(c)) + '\n').join('');
        process.stdout.write(out);
      }),
    );
}

function verifyCommand(): Command {
  return new Command('verify')
    .description('verify a certificate against one or more CA certificates; exit 0 when it is valid now')
    .requiredOption('--ca <path>', 'file with the trusted CA certificate(s)')
    .requiredOption('--crt <path>', 'the certificate to verify')
    .option('--blocklist <fingerprints>', 'comma separated certificate fingerprints to reject (like pki.blocklist)')
    .action(
      run((opts: { ca: string; crt: string; blocklist?: string }) => {
        const pool = loading('error while adding ca cert to pool', () => {
          const { text, label } = readPathOrPem(opts.ca);
          try {
            return CAPool.fromPem(text);
          } catch (err) {
            throw new CertificateError(`${label}: ${(err as Error).message}`);
          }
        });
        const cert: Certificate = loading('error while parsing crt', () => loadCertificate(opts.crt));
        const blocklist = new Set(splitList(opts.blocklist).map((f) => f.toLowerCase()));
        try {
          pool.verify(cert, new Date(), blocklist);
        } catch (err) {
          if (err instanceof CertificateError) throw new UserError(`${opts.crt}: ${err.message}`);
          throw err;
        }
      }),
    );
}

interface RevokeOptions {
  caCrt: string;
  caKey: string;
  crt?: string;
  fingerprint?: string;
  out: string;
}

function revokeCommand(): Command {
  return new Command('revoke')
    .description('add a certificate to the CA-signed revocation list that lighthouses push to every host (pki.revocations)')
    .option('--ca-crt <path>', 'the CA certificate', 'ca.crt')
    .option('--ca-key <path>', 'the CA private key that signs the list', 'ca.key')
    .addOption(new Option('--crt <path>', 'the certificate to revoke').conflicts('fingerprint'))
    .option('--fingerprint <hex>', 'the fingerprint of the certificate to revoke (as `mesh ca print` shows it)')
    .option('--out <path>', 'the revocation list to create or update (what pki.revocations names)', 'revocations.pem')
    .action(run((opts: RevokeOptions) => revokeAction(opts)));
}

function revokeAction(opts: RevokeOptions): void {
  if (opts.crt === undefined && opts.fingerprint === undefined) throw new UserError('give the certificate to revoke with --crt FILE or --fingerprint HEX', 2);
  const caKey = loading('error while reading ca-key', () => loadEd25519PrivateKey(opts.caKey));
  const caCert = loading('error while reading ca-crt', () => loadCertificate(opts.caCrt));
  let fingerprint: string;
  let label: string;
  if (opts.crt !== undefined) {
    const crt = opts.crt;
    const cert = loading('error while reading crt', () => loadCertificate(crt));
    fingerprint = certificateFingerprint(cert);
    label = `${cert.details.name} (${fingerprint})`;
  } else {
    fingerprint = opts.fingerprint!.trim().toLowerCase();
    label = fingerprint;
  }
  let previous: { version: number; fingerprints: string[] } = { version: 0, fingerprints: [] };
  if (existsSync(opts.out)) {
    const list = loading(`error while reading ${opts.out}`, () => parseRevocationListPem(readFileSync(opts.out)));
    // Only this CA's own list is extended: another CA's list would lose its signature.
    if (list.issuer !== certificateFingerprint(caCert)) throw new UserError(`${opts.out} is signed by another CA: extend it with that CA's certificate and key, or write this CA's list with --out`);
    loading(`${opts.out}`, () => verifyRevocationList(list, CAPool.fromCertificates([caCert])));
    previous = list;
  }
  if (previous.fingerprints.includes(fingerprint)) {
    process.stdout.write(`${label} is already revoked in ${opts.out}\n`);
    return;
  }
  // Versions only grow; milliseconds since the epoch also tell when the list was made.
  const version = Math.max(previous.version + 1, Date.now());
  const list = signRevocationList(caCert, caKey, version, [...previous.fingerprints, fingerprint]);
  // Written whole and renamed into place: a node reloading it never reads half a file.
  const temporary = `${opts.out}.tmp-${process.pid}`;
  writeFileSync(temporary, encodeRevocationListPem(list), { mode: 0o644 });
  renameSync(temporary, opts.out);
  process.stdout.write(`revoked ${label}; ${opts.out} lists ${list.fingerprints.length} certificate(s), version ${list.version}\n`);
}

/** `mesh ca ...`: the certificate authority commands. */
export function caCommand(): Command {
  return new Command('ca')
    .description('certificate authority: init, sign, keygen, print, verify (files compatible with nebula-cert 1.6), revoke')
    .addCommand(initCommand())
    .addCommand(signCommand())
    .addCommand(keygenCommand())
    .addCommand(printCommand())
    .addCommand(verifyCommand())
    .addCommand(revokeCommand());
}
