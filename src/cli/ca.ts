/**
 * `mesh ca ...`: the certificate authority commands, mirroring nebula-cert 1.6
 * (init = `nebula-cert ca`, sign, keygen, print, verify). Files are interchangeable with
 * nebula-cert's. `serve` and `token` are the enrollment service for `mesh join`.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { cidrCovers, formatCidr, formatIp, maskFromBits, parseCidr, type Cidr } from '../net/ipv4.js';
import { ipNetworkFromCidr, ipv4Cidrs, parseIpNetwork, type IpNetwork } from '../net/ip.js';
import { describeFsError, showValue, UserError } from '../errors.js';
import { createLogger, type LogFormat } from '../log.js';
import { readServiceState, servicePathFor } from './enroll-state.js';
import { createToken, encodeToken, readTokens, tokensPathFor, writeTokens, type SubnetPolicy } from '../../pki/enroll-token.js';
import { certificateFingerprint, certificateToJson, certificateToText, CertificateError, type Certificate, type CertificateVersion, type Curve } from '../../pki/cert.js';
import { CAPool } from '../../pki/ca-pool.js';
import { DurationError, formatGoDuration, parseGoDuration } from '../../pki/duration.js';
import { checkOutputsAbsent, writeOutputFiles } from '../../pki/files.js';
import { addressHolder, checkNotHandedOut, chooseSubnet, ledgerPathFor, recordAddress, recordSubnets, withLedger } from '../../pki/subnet-ledger.js';
import {
  encodeCertificatePem,
  encodeHostPrivateKeyPem,
  encodeHostPublicKeyPem,
  encodeSigningPrivateKeyPem,
  generateHostKeyPair,
  loadCertificate,
  loadCertificates,
  loadEd25519PrivateKey,
  loadHostPublicKey,
  loadSigningPrivateKey,
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

/** --version: 1 or 2 (nebula-cert 1.10's flag). */
function parseVersion(text: string | undefined): CertificateVersion | undefined {
  if (text === undefined) return undefined;
  if (text !== '1' && text !== '2') throw new UserError('--version must be either 1 or 2');
  return Number(text) as CertificateVersion;
}

/** --curve: 25519 (the default) or P256, as nebula-cert 1.10 spells them. */
function parseCurve(text: string): Curve {
  const t = text.trim().toUpperCase();
  if (t === '25519' || t === 'CURVE25519' || t === 'X25519' || t === 'ED25519') return 'CURVE25519';
  if (t === 'P256' || t === 'P-256') return 'P256';
  throw new UserError(`invalid curve: ${text} (expected 25519 or P256)`);
}

/**
 * A network list given by its nebula-cert 1.10 flag or, when that is absent, by the 1.6 one
 * (--ips/--ip, --subnets), as nebula-cert pulls up its deprecated flags. `what` names the flag
 * in errors ("ip" and "subnet" keep mesh's earlier messages).
 */
function networksOption(current: string | undefined, legacy: string | undefined, legacyWhat: string, what: string): { text: string | undefined; what: string } {
  if (current !== undefined && current !== '') return { text: current, what };
  return { text: legacy, what: legacyWhat };
}

function parseNetworks(value: string | undefined, what: string, version: CertificateVersion): IpNetwork[] {
  return splitList(value).map((text) => {
    let n: IpNetwork;
    try {
      n = parseIpNetwork(text);
    } catch (err) {
      throw new UserError(`invalid ${what} definition: ${(err as Error).message}`);
    }
    if (version === 1 && n.family !== 4) throw new UserError(`invalid ${what} definition: v1 certificates can only be ipv4, have ${text}`);
    return n;
  });
}

const VERSION_HELP = 'certificate format: 1 (Nebula 1.6+, protobuf) or 2 (Nebula 1.10+, several IPv4 and IPv6 networks, P256)';

interface InitOptions {
  name: string;
  version: string;
  curve: string;
  duration: string;
  groups?: string;
  networks?: string;
  unsafeNetworks?: string;
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
    .option('--version <1|2>', `${VERSION_HELP}; nebula-cert 1.10 defaults to 2, mesh to 1 so that Nebula 1.6-1.9 hosts can use the CA`, '1')
    .option('--curve <curve>', 'key curve: 25519 (Ed25519 CA key, X25519 host keys) or P256 (ECDSA CA key, P256 host keys; version 2 only)', '25519')
    .option('--duration <duration>', 'how long the CA is valid, Go syntax (e.g. 8760h, 1h30m, 90s)', formatGoDuration(DEFAULT_CA_DURATION_NS))
    .option('--groups <list>', 'comma separated groups; limits the groups of certificates this CA signs')
    .option('--networks <cidrs>', 'comma separated networks (IPv4; IPv6 in version 2); limits the networks of certificates this CA signs')
    .option('--unsafe-networks <cidrs>', 'comma separated networks (IPv4; IPv6 in version 2); limits the unsafe networks (routed subnets) of certificates this CA signs')
    .option('--ips <cidrs>', 'the same as --networks (nebula-cert 1.6\'s name)')
    .option('--subnets <cidrs>', 'the same as --unsafe-networks (nebula-cert 1.6\'s name)')
    .option('--out-crt <path>', 'where to write the CA certificate', 'ca.crt')
    .option('--out-key <path>', 'where to write the CA private key', 'ca.key')
    .option('--force', 'overwrite existing output files')
    .action(
      run((opts: InitOptions) => {
        const version = parseVersion(opts.version)!;
        const curve = parseCurve(opts.curve);
        if (curve === 'P256' && version === 1) throw new UserError('--curve P256 needs --version 2 (mesh writes v1 certificates with curve 25519 only)');
        const durationNs = parseDuration(opts.duration);
        if (durationNs <= 0n) throw new UserError('--duration must be greater than 0');
        const networks = networksOption(opts.networks, opts.ips, 'ip', '--networks');
        const unsafe = networksOption(opts.unsafeNetworks, opts.subnets, 'subnet', '--unsafe-networks');
        const ca = createCA({
          name: opts.name,
          version,
          curve,
          durationNs,
          groups: splitList(opts.groups),
          networks: parseNetworks(networks.text, networks.what, version),
          unsafeNetworks: parseNetworks(unsafe.text, unsafe.what, version),
        });
        writeOutputFiles(
          [
            { path: opts.outKey, data: encodeSigningPrivateKeyPem(curve, ca.privateKey), what: 'CA key' },
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
  version?: string;
  name: string;
  networks?: string;
  unsafeNetworks?: string;
  ip?: string;
  subnets?: string;
  groups?: string;
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
    .option('--version <1|2>', `${VERSION_HELP}; default: the CA's version`)
    .requiredOption('--name <name>', 'name of the certificate, usually the host name')
    .option('--networks <cidrs>', 'the host\'s overlay addresses with their network prefix, comma separated, e.g. 10.42.0.2/16,fd42::2/64 (version 1: one IPv4 address)')
    .option('--unsafe-networks <cidrs>', 'comma separated networks this host may route for (unsafe routes, its Docker containers), or "auto": the next free IPv4 /24 in the CA\'s unsafe networks, recorded in a ledger next to the CA key')
    .option('--ip <cidr>', 'the same as --networks with one IPv4 address (nebula-cert 1.6\'s name), e.g. 10.42.0.2/16')
    .option('--subnets <cidrs>', 'the same as --unsafe-networks (nebula-cert 1.6\'s name), "auto" included')
    .option('--groups <list>', 'comma separated groups')
    .option('--duration <duration>', 'how long the certificate is valid, Go syntax (default: until 1 s before the CA expires)')
    .addOption(new Option('--in-pub <path>', 'sign an existing public key (from `mesh ca keygen`, on the CA\'s curve) instead of creating a key pair').conflicts('outKey'))
    .option('--out-crt <path>', 'where to write the certificate (default: <name>.crt)')
    .option('--out-key <path>', 'where to write the new private key (default: <name>.key)')
    .option('--force', 'overwrite existing output files')
    .action(run((opts: SignCliOptions) => signAction(opts)));
}

function signAction(opts: SignCliOptions): void {
  const caKey = loading('error while reading ca-key', () => loadSigningPrivateKey(opts.caKey));
  const caCert = loading('error while reading ca-crt', () => loadCertificate(opts.caCrt));
  const curve = caCert.details.curve;
  if (caKey.curve !== curve) throw new UserError('refusing to sign, root certificate does not match private key');
  const version = parseVersion(opts.version) ?? caCert.details.version;
  const given = networksOption(opts.networks, opts.ip, 'ip', '--networks');
  if (given.text === undefined || given.text.trim() === '') throw new UserError('--networks (or --ip) is required', 2);
  const networks = parseNetworks(given.text, given.what, version);
  if (version === 1 && networks.length !== 1) throw new UserError(`invalid ip definition: expected one IPv4 address with prefix, got "${given.text}"`);
  const unsafe = networksOption(opts.unsafeNetworks, opts.subnets, 'subnet', '--unsafe-networks');
  const auto = unsafe.text?.trim() === 'auto';
  const explicitUnsafe = auto ? [] : parseNetworks(unsafe.text, unsafe.what, version);
  const durationNs = opts.duration === undefined ? undefined : parseDuration(opts.duration);
  if (durationNs !== undefined && durationNs < 0n) throw new UserError('--duration must not be negative');

  let publicKey: Uint8Array;
  let privateKey: Uint8Array | undefined;
  if (opts.inPub !== undefined) {
    const inPub = opts.inPub;
    const pub = loading('error while reading in-pub', () => loadHostPublicKey(inPub));
    if (pub.curve !== curve) throw new UserError('curve of in-pub does not match ca');
    publicKey = pub.key;
  } else {
    ({ publicKey, privateKey } = generateHostKeyPair(curve));
  }

  const outCrt = opts.outCrt ?? `${opts.name}.crt`;
  // Checked in this order, like nebula-cert: the certificate, then the key.
  const outputs = [{ path: outCrt, what: 'cert' }];
  if (privateKey) outputs.push({ path: opts.outKey ?? `${opts.name}.key`, what: 'key' });
  checkOutputsAbsent(outputs, opts.force === true);

  const signAndWrite = (unsafeNetworks: IpNetwork[]) => {
    const cert = signCertificate({ caCert, caKey: caKey.key, version, name: opts.name, networks, unsafeNetworks, groups: splitList(opts.groups), publicKey, ...(durationNs === undefined ? {} : { durationNs }) });
    const data = [encodeCertificatePem(cert), ...(privateKey ? [encodeHostPrivateKeyPem(curve, privateKey)] : [])];
    writeOutputFiles(outputs.map((o, i) => ({ ...o, data: data[i]! })), opts.force === true);
  };
  // IPv4 container subnets and the first IPv4 address go through the ledger, so that no two hosts
  // (nor `mesh join`) get the same one.
  if (isInlinePem(opts.caKey)) {
    if (auto) throw new UserError(`${unsafe.what === 'subnet' ? '--subnets' : '--unsafe-networks'} auto needs --ca-key as a file: the subnet ledger is kept next to it`);
    return signAndWrite(explicitUnsafe);
  }
  const ledger = ledgerPathFor(opts.caKey);
  const address = ipv4Cidrs(networks)[0];
  withLedger(ledger, (state) => {
    const subnets = auto ? [chooseSubnet(ipv4Cidrs(caCert.details.unsafeNetworks), state.subnets, opts.name)] : ipv4Cidrs(explicitUnsafe);
    if (!auto) checkNotHandedOut(subnets, state.subnets, opts.name);
    const holder = address && addressHolder(state.addresses, address.ip, opts.name);
    // nebula-cert signs what it is told; the ledger only warns, as reusing an IP can be intended (a renamed host).
    if (holder) process.stderr.write(`warning: ${formatIp(address.ip)} is also recorded for "${holder.name}" (${holder.at}) in ${ledger}\n`);
    signAndWrite(auto ? subnets.map(ipNetworkFromCidr) : explicitUnsafe);
    if (auto) process.stdout.write(`${opts.name}: subnet ${subnets.map(formatCidr).join(', ')} (recorded in ${ledger})\n`);
    const now = new Date();
    const recordedSubnets = subnets.length > 0 ? recordSubnets(state.subnets, opts.name, subnets, now) : state.subnets;
    const addresses = address ? recordAddress(state.addresses, opts.name, address.ip, now) : state.addresses;
    return { state: { subnets: recordedSubnets, addresses }, result: undefined };
  });
}

function keygenCommand(): Command {
  return new Command('keygen')
    .description('create a key pair for a host; sign the public key with `mesh ca sign --in-pub`')
    .option('--curve <curve>', 'key curve: 25519 (X25519) or P256; the CA\'s curve', '25519')
    .requiredOption('--out-key <path>', 'where to write the private key')
    .requiredOption('--out-pub <path>', 'where to write the public key')
    .option('--force', 'overwrite existing output files')
    .action(
      run((opts: { curve: string; outKey: string; outPub: string; force?: boolean }) => {
        const curve = parseCurve(opts.curve);
        const pair = generateHostKeyPair(curve);
        writeOutputFiles(
          [
            { path: opts.outKey, data: encodeHostPrivateKeyPem(curve, pair.privateKey), what: 'key' },
            { path: opts.outPub, data: encodeHostPublicKeyPem(curve, pair.publicKey), what: 'public key' },
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
    .option('--json', 'print JSON in the format of `nebula-cert print -json`')
    .addHelpText(
      'after',
      '\nA file of v1 certificates prints as nebula-cert 1.6 prints it (--json: one object per line); a file\nwith a v2 certificate prints as nebula-cert 1.10 does (--json: one array).',
    )
    .action(
      run((opts: { path: string; json?: boolean }) => {
        const certs = loading('error while reading cert', () => loadCertificates(opts.path));
        const format = certs.some((c) => c.details.version === 2) ? '1.10' : '1.6';
        const out =
          opts.json && format === '1.10'
            ? `[${certs.map((c) => certificateToJson(c, format)).join(',')}]\n`
            : certs.map((c) => (opts.json ? certificateToJson(c, format) : certificateToText(c, format)) + '\n').join('');
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

interface ServeOptions {
  config?: string;
  caCrt: string;
  caKey: string;
  listen: string;
  advertise?: string;
  template?: string;
  network?: string;
  groups?: string;
  duration: string;
}

/** `mesh ca serve --config` keys, each the YAML spelling of a flag. */
const SERVE_KEYS = { ca_crt: 'caCrt', ca_key: 'caKey', listen: 'listen', advertise: 'advertise', template: 'template', network: 'network', groups: 'groups', duration: 'duration' } as const;

/** Fills the options not given as flags from the --config file (flags win). */
async function applyServeConfig(opts: ServeOptions, command: Command): Promise<void> {
  if (opts.config === undefined) return;
  const path = opts.config;
  const { parseYaml } = await import('../yaml.js');
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`--config ${path}: ${err instanceof Error && 'code' in err ? describeFsError(err) : (err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new UserError(`--config ${path}: expected a mapping of ${Object.keys(SERVE_KEYS).join(', ')}`);
  for (const [key, value] of Object.entries(doc)) {
    const option = SERVE_KEYS[key as keyof typeof SERVE_KEYS];
    if (!option) throw new UserError(`--config ${path}: unknown key "${key}" (known: ${Object.keys(SERVE_KEYS).join(', ')})`);
    const text = Array.isArray(value) && option === 'groups' ? value.join(',') : value;
    if (typeof text !== 'string') throw new UserError(`--config ${path}: ${key}: expected text, got ${showValue(value)}`);
    const source = command.getOptionValueSource(option);
    if (source === undefined || source === 'default') opts[option] = text;
  }
}

function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !/^\d+$/.test(text.slice(colon + 1)) || port < 1 || port > 65535) throw new UserError(`${flag}: expected HOST:PORT, got "${text}"`);
  return { host: text.slice(0, colon), port };
}

function serveCommand(): Command {
  return new Command('serve')
    .description('run the enrollment service: hosts join with a token (`mesh join`) and running nodes renew their certificates; state is kept next to the CA key')
    .option('--ca-crt <path>', 'the signing CA certificate', 'ca.crt')
    .option('--ca-key <path>', 'the signing CA private key (a file: the ledger, tokens and service state live next to it)', 'ca.key')
    .option('--config <path>', `the same settings as YAML (keys ${Object.keys(SERVE_KEYS).join(', ')}); flags override it`)
    .option('--listen <host:port>', 'where to accept HTTPS', '0.0.0.0:4243')
    .option('--advertise <host:port>', 'the address joining hosts connect to, put into tokens (default: --listen, which then must not be 0.0.0.0)')
    .option('--template <path>', 'node configuration joining hosts receive (lighthouse, static_host_map, punchy, relay, firewall, ...); pki and enrollment are filled in')
    .option('--network <cidr>', 'overlay network host IPs are allocated from (default: the CA\'s first --ips network)')
    .option('--groups <list>', 'groups for hosts whose token names none')
    .option('--duration <duration>', 'how long issued certificates are valid, Go syntax; running nodes renew before expiry', '720h')
    .action(async (opts: ServeOptions, command: Command) => {
      const globals = command.optsWithGlobals<{ logFormat?: LogFormat; logLevel?: LevelWithSilent }>();
      const log = await createLogger({ level: globals.logLevel ?? 'info', format: globals.logFormat });
      await applyServeConfig(opts, command);
      const templatePath = opts.template;
      if (templatePath === undefined) throw new UserError('--template (or template: in --config) is required: the node configuration joining hosts receive', 2);
      if (isInlinePem(opts.caKey)) throw new UserError('--ca-key must be a file: the ledger and the service state are kept next to it');
      const caKey = loading('error while reading ca-key', () => loadEd25519PrivateKey(opts.caKey));
      const caCert = loading('error while reading ca-crt', () => loadCertificate(opts.caCrt));
      const listen = parseHostPort(opts.listen, '--listen');
      const advertise = opts.advertise ?? opts.listen;
      const advertised = parseHostPort(advertise, '--advertise');
      if (advertised.host === '0.0.0.0' || advertised.host === '::') throw new UserError('--advertise: give the address joining hosts reach this service at (--listen is a wildcard)');
      const caNetworks = ipv4Cidrs(caCert.details.networks);
      const network = opts.network !== undefined ? parseCidrs(opts.network, 'network')[0] : caNetworks[0];
      if (!network) throw new UserError('--network: the CA has no --ips network to allocate host IPs from; pass --network CIDR');
      if (caNetworks.length > 0 && !caNetworks.some((ca) => cidrCovers(ca, network))) {
        throw new UserError(`--network ${formatCidr(network)} is outside the CA's networks (${caNetworks.map(formatCidr).join(', ')})`);
      }
      const durationNs = parseDuration(opts.duration);
      if (durationNs <= 0n) throw new UserError('--duration must be greater than 0');
      const { readTemplate, prepareServiceState, startEnrollmentService } = await import('./enroll-service.js');
      readTemplate(templatePath); // refused now rather than at the first join
      const { issuedLogPathFor } = await import('../../pki/enroll-issue.js');
      const statePath = servicePathFor(opts.caKey);
      const state = await prepareServiceState(statePath, advertise);
      const caPem = encodeCertificatePem(caCert);
      const server = await startEnrollmentService(
        {
          issuer: {
            caCert,
            caKey,
            ledgerPath: ledgerPathFor(opts.caKey),
            tokensPath: tokensPathFor(opts.caKey),
            issuedLogPath: issuedLogPathFor(opts.caKey),
            network: { ip: network.ip & maskFromBits(network.bits), bits: network.bits },
            reserved: [],
            defaultGroups: splitList(opts.groups),
            durationNs,
          },
          state,
          templatePath,
          caPem,
          log,
        },
        listen,
      );
      log.info({ listen: opts.listen, advertise, pin: state.pin, network: formatCidr(network) }, 'enrollment service running; create tokens with `mesh ca token create`');
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          resolve();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      log.info('enrollment service stopping');
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
}

interface TokenCreateOptions {
  caKey: string;
  uses: string;
  ttl: string;
  groups?: string;
  name?: string;
  namePrefix?: string;
  subnet: SubnetPolicy;
}

function tokenCommand(): Command {
  const caKeyOption = () => new Option('--ca-key <path>', 'the CA private key whose service the token is for (tokens are kept next to it)').default('ca.key');
  const create = new Command('create')
    .description('create an enrollment token for `mesh join` (needs `mesh ca serve` to have started once); prints it')
    .addOption(caKeyOption())
    .option('--uses <n>', 'how many hosts may join with it', '1')
    .option('--ttl <duration>', 'how long it is valid, Go syntax', '24h')
    .option('--groups <list>', 'comma separated groups the joining hosts get (default: the service\'s --groups)')
    .addOption(new Option('--name <name>', 'the name the joining host gets (a token of one use)').conflicts('namePrefix'))
    .option('--name-prefix <prefix>', 'joining hosts choose their name, starting with this')
    .addOption(new Option('--subnet <policy>', 'hand each host a container subnet from the CA\'s --subnets (for Docker hosts)').choices(['auto', 'none']).default('none'))
    .action(
      run((opts: TokenCreateOptions) => {
        const state = readServiceState(servicePathFor(opts.caKey));
        if (!state) throw new UserError(`no enrollment service state next to ${opts.caKey}: start \`mesh ca serve --ca-key ${opts.caKey} ...\` once first`);
        if (!/^\d+$/.test(opts.uses)) throw new UserError(`--uses: expected a whole number, got "${opts.uses}"`);
        const ttlNs = parseGoDuration(opts.ttl);
        const { record, id, secret } = createToken(
          { uses: Number(opts.uses), ttlMs: Number(ttlNs / 1_000_000n), groups: splitList(opts.groups), name: opts.name ?? null, namePrefix: opts.namePrefix ?? null, subnet: opts.subnet },
          new Date(),
        );
        const tokensPath = tokensPathFor(opts.caKey);
        withLedger(ledgerPathFor(opts.caKey), (ledger) => {
          writeTokens(tokensPath, [...readTokens(tokensPath), record]);
          return { state: ledger, result: undefined };
        });
        process.stdout.write(`${encodeToken({ server: state.advertise, pin: state.pin, id, secret })}\n`);
      }),
    );
  const list = new Command('list')
    .description('list the enrollment tokens: id, uses, expiry, what they allow')
    .addOption(caKeyOption())
    .action(
      run((opts: { caKey: string }) => {
        const now = Date.now();
        const rows = readTokens(tokensPathFor(opts.caKey)).map((t) => {
          const status = t.revoked ? 'revoked' : Date.parse(t.expiresAt) <= now ? 'expired' : t.used >= t.uses ? 'used up' : 'valid';
          const allows = [t.name !== null ? `name=${t.name}` : t.namePrefix !== null ? `name-prefix=${t.namePrefix}` : 'any name', `groups=${t.groups.join(',') || '(default)'}`, `subnet=${t.subnet}`].join(' ');
          return `${t.id}  ${status.padEnd(8)} ${`${t.used}/${t.uses}`.padEnd(7)} ${t.expiresAt}  ${allows}`;
        });
        process.stdout.write(rows.length === 0 ? 'no tokens\n' : `ID                STATUS   USED    EXPIRES                   ALLOWS\n${rows.join('\n')}\n`);
      }),
    );
  const revoke = new Command('revoke')
    .description('revoke an enrollment token: it is refused from now on (certificates already issued stay valid)')
    .argument('<id>', 'the token id, as `mesh ca token list` shows it')
    .addOption(caKeyOption())
    .action(
      run((id: string, opts: { caKey: string }) => {
        const tokensPath = tokensPathFor(opts.caKey);
        withLedger(ledgerPathFor(opts.caKey), (ledger) => {
          const tokens = readTokens(tokensPath);
          if (!tokens.some((t) => t.id === id)) throw new UserError(`no token ${id} in ${tokensPath}`);
          writeTokens(tokensPath, tokens.map((t) => (t.id === id ? { ...t, revoked: true } : t)));
          return { state: ledger, result: undefined };
        });
        process.stdout.write(`token ${id} revoked\n`);
      }),
    );
  return new Command('token').description('enrollment tokens for `mesh join`: create, list, revoke').addCommand(create).addCommand(list).addCommand(revoke);
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
    .description('certificate authority: init, sign, keygen, print, verify (files compatible with nebula-cert 1.6, and 1.10 for v2 certificates); revoke; serve and token for `mesh join`')
    .addCommand(initCommand())
    .addCommand(signCommand())
    .addCommand(keygenCommand())
    .addCommand(printCommand())
    .addCommand(verifyCommand())
    .addCommand(revokeCommand())
    .addCommand(serveCommand())
    .addCommand(tokenCommand());
}
