// `regctl completion bash|zsh|fish`: scripts written from the program itself (every command of --help is in them);
// bash's script loads and completes commands, flags and location prefixes; zsh/fish are syntax-checked by the shells.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { runCli } from '../support/run-cli.js';

const run = promisify(execFile);
let work: string;
const scripts: Record<string, string> = {};
let commandNames: string[] = [];

beforeAll(async () => {
  work = await makeTempDir('completion');
  await mkdir(join(work, 'layouts'));
  await writeFile(join(work, 'image.tar'), '');
  for (const shell of ['bash', 'zsh', 'fish']) {
    const r = await runCli(['completion', shell]);
    expect(r.code, r.stderr).toBe(0);
    scripts[shell] = r.stdout;
    await writeFile(join(work, `regctl.${shell}`), r.stdout);
  }
  // The commands as --help lists them (`copy|cp [options] <src> <dst>`): the names and aliases.
  const help = await runCli(['--help']);
  commandNames = [...help.stdout.matchAll(/^ {2}([a-z][a-z|-]*)[ \n]/gm)]
    .flatMap((m) => m[1].split('|'))
    .filter((n) => n !== 'help');
});

afterAll(async () => {
  await removeTempDir(work);
});

/** What bash's completion function offers for the command line typed so far (as `complete -F` calls it). */
async function bashComplete(line: string): Promise<string[]> {
  const script = join(work, 'regctl.bash');
  const { stdout } = await run(
    'bash',
    [
      '-c',
      'source "$1"; COMP_LINE="$2"; COMP_POINT=${#2}; _regctl; printf "%s\\n" "${COMPREPLY[@]}"',
      '_',
      script,
      line,
    ],
    { cwd: work },
  );
  return stdout.split('\n').filter(Boolean);
}

describe('regctl completion', () => {
  it('every command and alias of --help is in each script (generated from the program)', () => {
    expect(commandNames).toEqual(expect.arrayContaining(['copy', 'cp', 'sync', 'login', 'completion']));
    for (const shell of ['bash', 'zsh', 'fish']) {
      for (const name of commandNames)
        expect(scripts[shell], `${shell}: ${name}`).toMatch(new RegExp(`(^|[\\s'|(])${name}[\\s:'|)]`));
    }
  });

  it('bash: the script loads, registers _regctl, and completes commands, flags and location prefixes', async () => {
    await run('bash', ['-n', join(work, 'regctl.bash')]);
    const { stdout } = await run('bash', ['-c', 'source "$1"; complete -p regctl', '_', join(work, 'regctl.bash')]);
    expect(stdout.trim()).toBe('complete -F _regctl regctl');
    expect(await bashComplete('regctl co')).toEqual(['copy', 'completion']);
    expect((await bashComplete('regctl copy --pl')).sort()).toEqual(['--plain-http', '--platform']);
    // a global flag's value is skipped when finding the command
    expect(await bashComplete('regctl -j 4 copy oci-')).toEqual(['oci-archive:']);
    expect(await bashComplete('regctl copy ./image.tar dock')).toEqual(['docker://', 'docker-archive:']);
    // after a prefix, files; bash replaces only what follows the last ':'
    expect(await bashComplete('regctl copy oci:lay')).toEqual(['layouts/']);
    expect(await bashComplete('regctl pull alpine docker-archive:ima')).toEqual(['image.tar']);
    expect(await bashComplete('regctl completion f')).toEqual(['fish']);
  });

  it("zsh and fish scripts pass their shell's syntax check", async () => {
    expect(scripts.zsh).toMatch(/^#compdef regctl$/m);
    expect(scripts.fish).toMatch(/^complete -c regctl -n __fish_use_subcommand -a copy -d /m);
    for (const [shell, flag] of [
      ['zsh', '-n'],
      ['fish', '--no-execute'],
    ] as const) {
      // Both shells are installed by README's set-up command and .ci/run: a missing one fails here, never passes.
      await run(shell, [flag, join(work, `regctl.${shell}`)]);
    }
  });

  it('an unknown shell is a usage error', async () => {
    const r = await runCli(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^regctl: completion: unknown shell "tcsh"$/m);
  });
});
