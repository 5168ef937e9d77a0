// Typed errors with stable codes, a hint where the user can act, and the exit status they map to.
export type ExitCode = 1 | 2 | 130 | 143;

/**
 * Error codes of the OCI distribution spec (and Docker Hub's TOOMANYREQUESTS), as registries send them in
 * `{"errors":[{"code":…}]}`; a RegistryError's `code` is the first one the registry sent.
 */
export type OciErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'MANIFEST_UNVERIFIED'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'TAG_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS';

/** regctl's own error codes: stable, shown by `--json` and `sync` reports, and what code tells failures apart by. */
export type RegctlErrorCode =
  | 'AUTH_FAILED'
  | 'BAD_RANGE'
  | 'BAD_RESPONSE'
  | 'CONFIG_INVALID'
  | 'CONFIG_TOO_LARGE'
  | 'NO_KEYTAR'
  | 'CONTEXT_CHANGED'
  | 'CRED_HELPER'
  | 'DELETE_UNSUPPORTED'
  | 'DIGEST_MISMATCH'
  | `DIGEST_${DigestErrorKind}`
  | 'ECR_API'
  | 'ECR_AUTH'
  | 'ECR_CREATE'
  | `FS_${string}`
  | `HTTP_${number}`
  | 'INSECURE_REALM'
  | 'INSECURE_URL'
  | 'INVALID_NAME'
  | 'LAYOUT_INVALID'
  | 'LOCK_INVALID'
  | 'LOCK_TIMEOUT'
  | 'LOGIN_FAILED'
  | 'NETWORK'
  | 'NO_ANSWER'
  | 'NO_POLICY'
  | 'NOT_FOUND'
  | 'NOT_REGULAR'
  | 'NOTHING_TO_COMMIT'
  | 'PLATFORM_MISMATCH'
  | 'PLATFORM_NOT_FOUND'
  | 'PRUNE_FAILED'
  | 'RANGE'
  | 'REDIRECT'
  | 'REPO_NOT_EMPTY'
  | 'REPO_SETTINGS'
  | 'SIZE_MISMATCH'
  | 'SOURCE_READ'
  | 'TAR_INVALID'
  | 'TOO_LARGE'
  | 'UNSAFE_PATH'
  | 'UNTAG_FAILED'
  | 'UNTAG_UNSUPPORTED'
  | 'USAGE';

export type ErrorCode = RegctlErrorCode | OciErrorCode;

export interface ErrorOptions {
  hint?: string;
  exitCode?: ExitCode;
  cause?: unknown;
}

export class RegctlError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly exitCode: ExitCode;

  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
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

/** A RegctlError with this code: the typed way to tell failures apart, instead of casting and comparing strings. */
export function hasCode(err: unknown, code: ErrorCode): err is RegctlError {
  return err instanceof RegctlError && err.code === code;
}

export function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'AbortError' ||
      (err as { code?: string }).code === 'ABORT_ERR' ||
      (err as { code?: string }).code === 'UND_ERR_ABORTED')
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
