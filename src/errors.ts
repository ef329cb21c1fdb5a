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

/** A value as the user wrote it, for error messages: JSON text, cut to 60 characters. */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value); // a BigInt or a cyclic structure
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Short text for a failed file-system call ("no such file", "permission denied"); other errors keep
 * their own message. `missing` replaces the ENOENT text where the path may also name a directory.
 */
export function describeFsError(err: unknown, missing = 'no such file'): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return missing;
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return e instanceof Error ? e.message : String(err);
  }
}
