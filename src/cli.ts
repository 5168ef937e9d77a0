// The command line: global flags, one AbortController for SIGINT/SIGTERM, run a CommandDef, print its result, map
// errors to exit codes.
import { setMaxListeners } from 'node:events';
import { Command, CommanderError, Option } from 'commander';
import { commands } from './commands/index.js';
import type { CommandDef } from './commands/types.js';
import { RegctlError, isAbortError } from './errors.js';
import { maskSecrets } from './util/secrets.js';
import { fromFsError } from './util/fs-errors.js';
import { colorLevel, enableColor, paint, stripColor, terminalText } from './output/color.js';
import { escapeControl, jsonForTerminal } from './util/escape.js';

import { VERSION } from './version.js';
import { DEFAULT_JOBS, DEFAULT_LIGHT_JOBS } from './copy/pool.js';

function intOption(name: string, min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new RegctlError('USAGE', `${name} takes a whole number from ${min} to ${max}`, { exitCode: 2 });
    return n;
  };
}

function addGlobals(cmd: Command): Command {
  return cmd
    .option(
      '-j, --jobs <n>',
      `concurrent blob transfers (default: ${DEFAULT_JOBS}, and up to ${DEFAULT_LIGHT_JOBS} while the blobs are small)`,
      intOption('--jobs', 1, 64),
      DEFAULT_JOBS,
    )
    .option('--creds <user:pass>', 'credentials for every registry')
    .option('--src-creds <user:pass>', 'credentials for the source registry')
    .option('--dest-creds <user:pass>', 'credentials for the destination registry')
    .option('--plain-http', 'use HTTP, not HTTPS')
    .option('--insecure', 'skip TLS certificate verification')
    .option('--retries <n>', 'retries for failed requests', intOption('--retries', 0, 20), 3)
    .option(
      '--timeout <seconds>',
      'give up on a connection or a stalled response after this long',
      intOption('--timeout', 1, 86400),
    )
    .option('--json', 'machine-readable output')
    .option('-q, --quiet', 'no progress output')
    .option('--debug', 'trace HTTP requests to stderr (secrets redacted)')
    .addOption(new Option('--create-repo', 'create missing ECR repositories on push (the default)'))
    .addOption(new Option('--no-create-repo', 'fail instead of creating a missing ECR repository'))
    .configureHelp({ showGlobalOptions: true });
}

/**
 * The one place regctl sets V8 flags. undici parses HTTP with llhttp in WebAssembly, compiled on the first
 * connection; V8's optimising tier would then recompile it in the background and hold a short command at exit, while
 * the baseline compiler alone is quick and fast enough for llhttp. `--no-wasm-lazy-compilation`: compiled whole when
 * undici creates the module, not function by function on first call. Set when the first connection is near, not at
 * start-up: a V8 flag changed at run time makes Node's cached code for its own modules unusable, so every built-in
 * loaded after it compiles from source; by then the ones a registry command needs are loaded. What each saves:
 * bench/README.md, "Start-up tricks and measured choices".
 */
let wasmFlagsSet = false;
function baselineWasmOnly(): void {
  if (wasmFlagsSet) return;
  wasmFlagsSet = true;
  process.getBuiltinModule('node:v8').setFlagsFromString('--liftoff-only --no-wasm-lazy-compilation');
}

async function execute(
  def: CommandDef,
  args: string[],
  opts: Record<string, unknown>,
  signal: AbortSignal,
  color: number,
): Promise<number> {
  const [{ createContext }, { createLogger }] = await Promise.all([
    import('./app-context.js'),
    import('./output/log.js'),
  ]);
  if (color) await enableColor(color);
  const isTTY = Boolean(process.stderr.isTTY) && !process.env.CI;
  const io = { stdout: process.stdout, stderr: process.stderr, isTTY, color: color > 0 };
  const globals = {
    jobs: opts.jobs as number,
    // A --jobs the user typed caps every transfer; without one, small blobs get more lanes.
    lightJobs: opts.jobsGiven ? (opts.jobs as number) : Math.max(opts.jobs as number, DEFAULT_LIGHT_JOBS),
    creds: opts.creds as string | undefined,
    srcCreds: opts.srcCreds as string | undefined,
    destCreds: opts.destCreds as string | undefined,
    plainHttp: Boolean(opts.plainHttp),
    insecure: Boolean(opts.insecure),
    retries: opts.retries as number,
    timeout: opts.timeout ? (opts.timeout as number) * 1000 : undefined,
    json: Boolean(opts.json),
    quiet: Boolean(opts.quiet),
    debug: Boolean(opts.debug),
    createRepo: opts.createRepo !== false,
  };
  const log = createLogger(process.stderr, {
    quiet: globals.quiet || globals.json,
    debug: globals.debug,
    color: io.color,
  });
  const ctx = createContext(io, process.env, globals, log, signal, { beforeFirstConnection: baselineWasmOnly });
  try {
    const result = await def.run(ctx, args, opts);
    // Results hold what registries and files said (labels, tags, annotations): no control character reaches a
    // terminal. `--raw` bytes are written exactly to a pipe or a file (a newline follows only on a terminal).
    if (globals.json && result.json !== undefined)
      process.stdout.write(`${maskSecrets(jsonForTerminal(result.json))}\n`);
    else if (result.raw) {
      if (process.stdout.isTTY) process.stdout.write(`${escapeControl(Buffer.from(result.raw).toString('utf8'))}\n`);
      else process.stdout.write(result.raw);
    } else if (result.stdout) {
      // Colour is decided for stderr; stdout piped to a file or a program gets none unless FORCE_COLOR asks.
      const keep = color > 0 && (process.stdout.isTTY || process.env.FORCE_COLOR !== undefined);
      process.stdout.write(
        `${maskSecrets(keep ? terminalText(result.stdout) : escapeControl(stripColor(result.stdout)))}\n`,
      );
    }
    return result.exitCode ?? 0;
  } finally {
    await ctx.close();
  }
}

/** An error's text (often a registry's or a file's words) as one line with control characters escaped. */
function errorText(text: string): string {
  return escapeControl(text.replace(/\s*\n\s*/g, ' '), { oneLine: true });
}

function printError(err: unknown, signalName: string | undefined): number {
  if (signalName || isAbortError(err)) {
    process.stderr.write('regctl: interrupted\n');
    return signalName === 'SIGTERM' ? 143 : 130;
  }
  err = fromFsError(err) ?? err;
  if (err instanceof RegctlError) {
    const p = paint();
    process.stderr.write(`${p.error(`regctl: ${errorText(err.message)}`)}\n`);
    if (err.hint) process.stderr.write(`${p.warn('hint:')} ${errorText(err.hint)}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`${paint().error(`regctl: ${errorText(e?.message ?? String(err))}`)}\n`);
  if (process.env.REGCTL_STACK) process.stderr.write(`${e?.stack}\n`);
  return 1;
}

export function buildProgram(onRun: (def: CommandDef, args: string[], opts: Record<string, unknown>) => void): Command {
  const program = addGlobals(new Command('regctl'))
    .description(
      'Copy, pull, push, tag and inspect container images between registries and local files, without a daemon.',
    )
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`regctl: ${str.replace(/^error: /, '')}`) });
  for (const def of commands) {
    const cmd = new Command(def.name)
      .configureHelp({ showGlobalOptions: true })
      .description(def.summary)
      .arguments(def.args)
      .exitOverride()
      .configureOutput({ outputError: (str, write) => write(`regctl ${def.name}: ${str.replace(/^error: /, '')}`) })
      .addHelpText('after', `\nExamples:\n${def.examples.map((e) => `  $ ${e}`).join('\n')}\n`);
    for (const a of def.aliases ?? []) cmd.alias(a);
    def.configure?.(cmd);
    cmd.action((...params: unknown[]) => {
      const c = params[params.length - 1] as Command;
      onRun(def, c.args, { ...c.optsWithGlobals(), jobsGiven: c.getOptionValueSourceWithGlobals('jobs') === 'cli' });
    });
    program.addCommand(cmd);
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  let signalName: string | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    if (signalName) process.exit(name === 'SIGTERM' ? 143 : 130);
    signalName = name;
    controller.abort(Object.assign(new Error('interrupted'), { name: 'AbortError' }));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let chosen: { def: CommandDef; args: string[]; opts: Record<string, unknown> } | undefined;
  let code: number;
  // Decided from the environment alone (cheap); chalk itself loads only when colour is on.
  const color = colorLevel(process.env, { isTTY: Boolean(process.stderr.isTTY), json: argv.includes('--json') });
  try {
    const program = buildProgram((def, args, opts) => (chosen = { def, args, opts }));
    await program.parseAsync(argv, { from: 'user' });
    code = chosen ? await execute(chosen.def, chosen.args, chosen.opts, controller.signal, color) : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      code = err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
      if (err.code === 'commander.help') code = argv.length === 0 ? 2 : 0;
    } else {
      if (color) await enableColor(color).catch(() => undefined);
      code = printError(err, signalName);
    }
  }
  if (signalName && code === 0) code = signalName === 'SIGTERM' ? 143 : 130;
  process.exitCode = code;
  // Let stdout and stderr drain, then leave even if a kept-alive socket is still open.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

/**
 * Loads what most commands run (the context, the copy engine, the registry transport, progress) without running
 * anything, so that `npm run build` can save their compiled code in the bundle's code cache (bin/load-bundle.cjs).
 */
export async function warm(): Promise<void> {
  buildProgram(() => {});
  await Promise.all([
    import('./app-context.js'),
    import('./output/log.js'),
    import('./output/progress.js'),
    import('./copy/copy.js'),
    import('./copy/verify.js'),
    import('./transports/open.js'),
    import('./transports/registry.js'),
    import('./ecr/credentials.js'),
  ]);
}
