// Node's own file-system errors (EACCES, ENOENT, ENOSPC, EISDIR…) as one line naming the user's path and what to do.
import { basename, dirname } from 'node:path';
import { RegctlError } from '../errors.js';

type Known = [why: string, hint: (path: string, writing: boolean) => string, exitCode: 1 | 2];

const inDir = (p: string): string => dirname(p) || '.';
const perms = (p: string): string => `check the permissions of ${p} and of the directories above it`;
const kept = 'nothing half-written was kept';

const KNOWN: Record<string, Known> = {
  EACCES: [
    'permission denied',
    (p, w) => (w ? `you may not write in ${inDir(p)}: choose another path or change its permissions` : perms(p)),
    2,
  ],
  EPERM: ['operation not permitted', perms, 2],
  ENOENT: ['no such file or directory', () => 'check the path (relative paths start from the current directory)', 2],
  ENOTDIR: [
    'a part of the path is not a directory',
    () => 'check the path: each name but the last must be a directory',
    2,
  ],
  EISDIR: ['is a directory', () => 'name a file, or for an OCI layout directory write oci:PATH', 2],
  EROFS: ['read-only file system', () => 'write to a path on a writable file system', 2],
  ENAMETOOLONG: ['file name too long', () => 'use a shorter path', 2],
  ELOOP: ['too many symbolic links', () => 'check the symbolic links on the path', 2],
  EEXIST: ['already exists', () => 'remove it or choose another path', 2],
  ENOSPC: ['no space left on the device', (p) => `free space where ${inDir(p)} is, or write elsewhere; ${kept}`, 1],
  EDQUOT: ['disk quota exceeded', (p) => `free space in your quota or write elsewhere than ${inDir(p)}; ${kept}`, 1],
  EMFILE: ['too many open files', () => 'raise the limit (ulimit -n) or lower --jobs', 1],
  EIO: ['input/output error', () => 'the disk or file system reported an error; check it (dmesg)', 1],
};

/**
 * The path the user gave for one regctl wrote on the way: `OUT.tmp-XXXX`, `.OUT.tmp-XXXX`, a staging directory
 * `.OUT.staging-XXXX/…` beside OUT, `CONFIG.PID.tmp`. Answers whether the path was a temp (so: a write).
 */
function userPath(path: string): { path: string; temp: boolean } {
  const staging = /^(.*\/)?\.([^/]+)\.staging-[^/]+(\/.*)?$/.exec(path);
  if (staging) return { path: `${staging[1] ?? ''}${staging[2]}`, temp: true };
  const name = basename(path);
  const dir = path.slice(0, path.length - name.length);
  const real = [/^\.(.+)\.(?:tmp|part|lock)-[0-9a-f]+$/, /^(.+)\.tmp-[0-9a-f]+$/, /^(.+)\.\d+\.tmp$/]
    .map((re) => re.exec(name))
    .find((m) => m);
  return real ? { path: `${dir}${real[1]}`, temp: true } : { path, temp: false };
}

/** A RegctlError for a Node file-system error with a path; undefined for anything else. */
export function fromFsError(err: unknown): RegctlError | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!(e instanceof Error) || typeof e.code !== 'string' || typeof e.path !== 'string') return undefined;
  // A program that could not be started (a credential helper) is not a path the user gave.
  if (!Object.hasOwn(KNOWN, e.code) || e.syscall?.startsWith('spawn')) return undefined;
  const [why, hint, exitCode] = KNOWN[e.code];
  const { path, temp } = userPath(e.path);
  const writing = temp || ['mkdir', 'rename', 'mkdtemp', 'unlink', 'rmdir'].includes(e.syscall ?? '');
  return new RegctlError(`FS_${e.code}`, `${path}: ${why}`, { hint: hint(path, writing), exitCode, cause: err });
}
