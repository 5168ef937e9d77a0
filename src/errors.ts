// Typed errors with stable codes, a hint where the user can act, and the exit status they map to.
export type ExitCode = 1 | 2 | 130 | 143;

export interface ErrorOptions {
  hint?: string;
  exitCode?: ExitCode;
  cause?: unknown;
}

export class RegctlError extends Error {
  readonly code: string;
  readonly hint?: string;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RegctlError';
    this.code = code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 1;
  }
}

/** Bad usage or bad input: exit status 2. */
export class UsageError extends RegctlError {
  constructor(message: string, hint?: string) {
    super('USAGE', message, { hint, exitCode: 2 });
    this.name = 'UsageError';
  }
}

export type DigestErrorKind = 'MISMATCH' | 'SIZE_EXCEEDED' | 'SHORT_READ';

/** Bytes that do not match their descriptor. `side` names where they came from. */
export class DigestError extends RegctlError {
  constructor(
    readonly kind: DigestErrorKind,
    readonly digest: string,
    readonly expectedSize: number,
    readonly actualSize: number,
    readonly side = 'source',
  ) {
    const why =
      kind === 'MISMATCH'
        ? 'content does not match its digest'
        : kind === 'SIZE_EXCEEDED'
          ? `more than the expected ${expectedSize} bytes`
          : `${actualSize} bytes, expected ${expectedSize}`;
    super(`DIGEST_${kind}`, `${side} blob ${digest}: ${why}`);
    this.name = 'DigestError';
  }
}

export function isRegctlError(err: unknown): err is RegctlError {
  return err instanceof RegctlError;
}

export function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR' || (err as { code?: string }).code === 'UND_ERR_ABORTED')
  );
}

/** The first string `code` along an error's cause chain (four links at most) that `accept` takes. */
export function codeInChain(err: unknown, accept: (code: string) => boolean = () => true): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && accept(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
