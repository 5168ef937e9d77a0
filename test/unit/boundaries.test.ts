// Import boundaries (go-containerregistry's cmd/crane/depcheck_test.go): every src file sits in a layer, and a module
// imports only from its own layer or the ones below. The layers are drawn in README.md's "Layout" section.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', '..', 'src');

/** Top first. A file belongs to the longest path that is itself or a folder holding it. */
const LAYERS: { rank: number; paths: string[] }[] = [
  // The entries and the commands are one layer: `completion` reads the program cli.ts builds (a lazy import), and
  // the library (index.ts, `import … from 'regctl-js'`) runs commands; api/ is what copy, digest, tag and ls do as
  // values, shared by the commands and the library.
  { rank: 8, paths: ['cli.ts', 'index.ts', 'commands', 'api'] },
  // App wiring (createContext builds credentials, clients, the retry report) and what prints.
  { rank: 7, paths: ['app-context.ts', 'output'] },
  // Features: orchestrate the engine for one use.
  { rank: 6, paths: ['sync', 'builder', 'images', 'lifecycle', 'referrers'] },
  // What a feature may use (AppContext is an interface here); ECR's API, handed down to transports as callbacks.
  { rank: 5, paths: ['context.ts', 'ecr'] },
  { rank: 4, paths: ['copy'] },
  { rank: 3, paths: ['transports'] },
  { rank: 2, paths: ['registry-client'] },
  { rank: 1, paths: ['credentials'] },
  // Pure data and small helpers; render.ts only formats text (byte sizes, tables), any layer may use it.
  { rank: 0, paths: ['oci', 'location', 'util', 'types', 'errors.ts', 'config.ts', 'version.ts', 'output/render.ts'] },
];

/**
 * A command imports helpers from commands/flags.ts (and types.ts, shared.ts), never from another command's module; the
 * exceptions run another command whole: pull/push are copy with defaults, `ls --long` is `images`, index lists all.
 */
const COMMAND_HELPERS = ['commands/types.ts', 'commands/flags.ts', 'commands/shared.ts'];
const COMMAND_RUNS: Record<string, string[]> = {
  'commands/pull.ts': ['commands/copy.ts'],
  'commands/ls.ts': ['commands/images.ts'],
  'commands/inspect.ts': ['commands/inspect-archive.ts'],
};

/** commander, ora and chalk belong to the terminal: only here. */
const TERMINAL_ONLY = ['cli.ts', 'commands', 'output'];
const TERMINAL_PACKAGES = /^(commander|ora|chalk)(\/|$)/;
/** Heavy or native: loaded with import() on first use, so start-up never pays for them. */
const LAZY_PACKAGES = /^(@aws-sdk\/|keytar$)/;

export interface Import {
  specifier: string;
  /** import('x') — loaded on first use. */
  dynamic: boolean;
  /** import type / typeof import('x'): erased from the JavaScript. */
  typeOnly: boolean;
  line: number;
}

/** Every import, export-from, import() and import type of one source text (the compiler's own parser). */
export function importsOf(fileName: string, text: string): Import[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (node: ts.Node, spec: ts.Expression | undefined, dynamic: boolean, typeOnly: boolean) => {
    if (spec && ts.isStringLiteralLike(spec)) {
      const line = sf.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      out.push({ specifier: spec.text, dynamic, typeOnly, line });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (!clause.name &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node, node.moduleSpecifier, false, allTypes);
    } else if (ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier, false, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, false, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], true, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal as ts.Expression, false, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const inside = (file: string, path: string) => file === path || file.startsWith(`${path}/`);

/** The layer rank of a path relative to src/ (posix separators), or undefined for a file no layer names. */
export function rankOf(file: string): number | undefined {
  let best: { rank: number; length: number } | undefined;
  for (const l of LAYERS) {
    for (const p of l.paths) {
      if (inside(file, p) && p.length > (best?.length ?? -1)) best = { rank: l.rank, length: p.length };
    }
  }
  return best?.rank;
}

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(e.name) ? [relative(SRC, p).split('\\').join('/')] : [];
  });
}

/** The src-relative .ts path an import of a relative specifier names. */
function target(file: string, specifier: string): string {
  return normalize(join(dirname(file), specifier))
    .split('\\')
    .join('/')
    .replace(/\.js$/, '.ts');
}

export interface Violation {
  file: string;
  line: number;
  why: string;
}

/** Everything the rules refuse in one file's imports. */
export function check(file: string, imports: Import[]): Violation[] {
  const out: Violation[] = [];
  const rank = rankOf(file);
  if (rank === undefined) {
    return [{ file, line: 0, why: 'the file is in no layer: add it to LAYERS and to README.md "Layout"' }];
  }
  for (const imp of imports) {
    const at = { file, line: imp.line };
    if (imp.specifier.startsWith('.')) {
      const to = target(file, imp.specifier);
      const toRank = rankOf(to);
      if (toRank === undefined) out.push({ ...at, why: `imports ${to}, which is in no layer` });
      else if (toRank > rank) out.push({ ...at, why: `imports ${to} from a layer above (${toRank} > ${rank})` });
      else if (
        inside(file, 'commands') &&
        inside(to, 'commands') &&
        file !== 'commands/index.ts' &&
        ![...COMMAND_HELPERS, ...(COMMAND_RUNS[file] ?? [])].includes(to)
      ) {
        out.push({ ...at, why: `imports ${to}: a helper two commands share goes in commands/flags.ts` });
      }
    } else if (TERMINAL_PACKAGES.test(imp.specifier) && !imp.typeOnly && !TERMINAL_ONLY.some((p) => inside(file, p))) {
      out.push({ ...at, why: `imports ${imp.specifier} outside ${TERMINAL_ONLY.join(', ')}` });
    } else if (LAZY_PACKAGES.test(imp.specifier) && !imp.dynamic && !imp.typeOnly) {
      out.push({ ...at, why: `imports ${imp.specifier} statically: use import() where it is first needed` });
    } else if (imp.specifier.startsWith('@aws-sdk/') && !inside(file, 'ecr')) {
      out.push({ ...at, why: `uses ${imp.specifier} outside src/ecr (ECR lives in one place)` });
    }
  }
  return out;
}

describe('import boundaries', () => {
  const files = sourceFiles();

  it('finds the source tree', () => {
    expect(files).toContain('cli.ts');
    expect(files.length).toBeGreaterThan(50);
  });

  it('no module imports from a layer above its own (nor a command from another), and every file is in a layer', () => {
    const found = files.flatMap((f) => check(f, importsOf(f, readFileSync(join(SRC, f), 'utf8'))));
    expect(found.map((v) => `src/${v.file}:${v.line}: ${v.why}`)).toEqual([]);
  });

  it('commander, ora and chalk only in cli.ts, commands and output; @aws-sdk and keytar only by import()', () => {
    const packages = /commander|ora|chalk|@aws-sdk|keytar/;
    const found = files.flatMap((f) =>
      check(f, importsOf(f, readFileSync(join(SRC, f), 'utf8'))).filter((v) => packages.test(v.why)),
    );
    expect(found).toEqual([]);
  });

  // The checker itself: each rule catches what it is meant to (a test that could never fail proves nothing).
  it.each([
    ['transports/open.ts', "import type { AppContext } from '../context.js';", /layer above/],
    ['transports/registry.ts', "import { x } from '../ecr/host.js';", /layer above/],
    ['output/log.ts', "const r = await import('../commands/index.js');", /layer above/],
    ['sync/run.ts', "import { main } from '../cli.js';", /layer above/],
    ['output/render.ts', "import { Logger } from './log.js';", /layer above/],
    ['copy/verify.ts', "export { y } from '../sync/run.js';", /layer above/],
    ['oci/digest.ts', "type T = typeof import('../registry-client/client.js');", /layer above/],
    ['newdir/x.ts', "import { a } from '../oci/digest.js';", /in no layer/],
    ['copy/copy.ts', "import ora from 'ora';", /outside cli.ts/],
    ['registry-client/http.ts', "import chalk from 'chalk';", /outside cli.ts/],
    ['ecr/api.ts', "import { ECRClient } from '@aws-sdk/client-ecr';", /statically/],
    ['credentials/keychain.ts', "import keytar from 'keytar';", /statically/],
    ['credentials/docker-config.ts', "const sdk = await import('@aws-sdk/client-ecr');", /outside src\/ecr/],
    ['commands/digest.ts', "import { warnRateLimit } from './inspect.js';", /commands\/flags.ts/],
  ])('the checker refuses %s: %s', (file, text, why) => {
    const found = check(file, importsOf(file, text));
    expect(found.map((v) => v.why)).toEqual([expect.stringMatching(why)]);
  });

  it.each([
    ['commands/copy.ts', "import { copyImage } from '../copy/copy.js';"],
    ['commands/digest.ts', "import { warnRateLimit } from './flags.js';"],
    ['ecr/api.ts', "type Sdk = typeof import('@aws-sdk/client-ecr'); const s = await import('@aws-sdk/client-ecr');"],
    ['credentials/keychain.ts', "const k = await import('keytar');"],
    ['commands/types.ts', "import type { Command } from 'commander';"],
    ['transports/registry.ts', "import { RegistryClient } from '../registry-client/client.js';"],
  ])('the checker allows %s: %s', (file, text) => {
    expect(check(file, importsOf(file, text))).toEqual([]);
  });
});
