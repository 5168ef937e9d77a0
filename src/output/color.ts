// Colour for people at a terminal: whether to use it (NO_COLOR, FORCE_COLOR, --json, a TTY) and the few styles regctl
// uses. chalk is loaded only when colour is on, so a plain run (a pipe, CI, --json) never pays for it.
import { escapeControl } from '../util/escape.js';

export type Style = (text: string) => string;

export interface Paint {
  /** errors and failed items */
  error: Style;
  /** warnings, retries, hints */
  warn: Style;
  /** done: copied, a check mark */
  ok: Style;
  /** what matters less: digests, up to date, already there */
  dim: Style;
  /** a progress bar's filled part */
  bar: Style;
}

const same: Style = (t) => t;
export const PLAIN: Paint = { error: same, warn: same, ok: same, dim: same, bar: same };

let current: Paint = PLAIN;

/** The styles in use: plain until `enableColor` ran. */
export function paint(): Paint {
  return current;
}

/**
 * The colour level for stderr, 0 for none. FORCE_COLOR wins (as in Node's own tty and chalk: `0`/`false` forces it off,
 * `1`–`3` or empty force a level); then --json, NO_COLOR (any value, as no-color.org asks), not a terminal,
 * TERM=dumb.
 */
export function colorLevel(env: NodeJS.ProcessEnv, opts: { isTTY: boolean; json: boolean }): 0 | 1 | 2 | 3 {
  if (opts.json) return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === 'false' || force === '0') return 0;
    if (force === '' || force === 'true') return 1;
    const n = Number.parseInt(force, 10);
    return Number.isInteger(n) ? (Math.min(Math.max(n, 0), 3) as 0 | 1 | 2 | 3) : 1;
  }
  if ('NO_COLOR' in env || !opts.isTTY || env.TERM === 'dumb') return 0;
  return /256|truecolor|24bit/.test(`${env.COLORTERM ?? ''} ${env.TERM ?? ''}`) ? 2 : 1;
}

/** Loads chalk at `level` and makes `paint()` answer with colours; level 0 keeps everything plain. */
export async function enableColor(level: number): Promise<Paint> {
  if (level <= 0) return (current = PLAIN);
  const { Chalk } = await import('chalk');
  const c = new Chalk({ level: Math.min(level, 3) as 1 | 2 | 3 });
  current = { error: c.red, warn: c.yellow, ok: c.green, dim: c.dim, bar: c.cyan };
  return current;
}

/** `text` without colour codes (SGR sequences). */
export function stripColor(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

/** The printed width of `text`: without its colour codes. */
export function visibleLength(text: string): number {
  return Array.from(stripColor(text)).length;
}

/** Exactly the colour codes of our palette (red, yellow, green, cyan, dim, and their ends), nothing else. */
const OURS = /(\x1b\[(?:2|22|31|32|33|36|39)m)/;

/**
 * Text on its way to the terminal: every control character escaped (escape.ts), except, while colour is on, the
 * codes of our own palette (which only colour: they cannot move the cursor, clear, retitle or hide text).
 */
export function terminalText(text: string): string {
  if (current === PLAIN) return escapeControl(text);
  return text
    .split(OURS)
    .map((part, i) => (i % 2 ? part : escapeControl(part)))
    .join('');
}
