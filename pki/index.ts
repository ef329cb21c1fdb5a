/** The PKI: Nebula certificates (v1 and v2), keys, CA pools and signing. */
export * from './cert.js';
export * from './pem.js';
export * from './keys.js';
export { CAPool } from './ca-pool.js';
export { createCA, signCertificate, normalizeGroups, DEFAULT_CA_DURATION_NS, type CreateCAOptions, type CreatedCA, type SignOptions } from './sign.js';
export { parseGoDuration, formatGoDuration, DurationError } from './duration.js';
export { writeOutputFiles, checkOutputsAbsent, OutputExistsError, type OutputFile } from './files.js';
