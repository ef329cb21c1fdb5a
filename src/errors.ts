/**
 * An error caused by the user's input (flags, config, files). The CLI prints its message as one
 * line on stderr and exits non-zero, without a stack trace.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Prefixes an error's message with the file it concerns, keeping it a UserError. */
export function inFile(path: string, err: unknown): UserError {
  const message = err instanceof Error ? err.message : String(err);
  return new UserError(`${path}: ${message}`);
}
