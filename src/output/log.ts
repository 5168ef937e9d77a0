// A leveled stderr logger; --debug lines are already redacted by their producers, and masked again here.
import type { Writable } from 'node:stream';
import { redactText } from '../util/secrets.js';
import type { Logger } from '../util/log.js';
import { paint } from './color.js';
import { escapeControl } from '../util/escape.js';

export type { Logger };

/**
 * Masks what must never reach a terminal or a CI log: Authorization values, tokens, URL passwords, signed query
 * strings.
 */
export function redactLine(line: string): string {
  return redactText(line);
}

export function createLogger(stderr: Writable, opts: { quiet: boolean; debug: boolean; color: boolean }): Logger {
  const write = (s: string) => stderr.write(`${escapeControl(redactLine(s))}\n`);
  return {
    info: (m) => {
      if (!opts.quiet) write(m);
    },
    warn: (m) => stderr.write(`${paint().warn('warning:')} ${escapeControl(redactLine(m))}\n`),
    debug: (m) => {
      if (opts.debug) write(`debug: ${m}`);
    },
  };
}
