// A leveled stderr logger; --debug lines are already redacted by their producers, and masked again here.
import type { Writable } from 'node:stream';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}

const SECRET_RE = /(authorization:\s*)(basic|bearer)\s+\S+/gi;

export function redactLine(line: string): string {
  return line.replace(SECRET_RE, '$1$2 ***');
}

export function createLogger(stderr: Writable, opts: { quiet: boolean; debug: boolean; color: boolean }): Logger {
  const write = (s: string) => stderr.write(`${redactLine(s)}\n`);
  return {
    info: (m) => {
      if (!opts.quiet) write(m);
    },
    warn: (m) => write(`warning: ${m}`),
    debug: (m) => {
      if (opts.debug) write(`debug: ${m}`);
    },
  };
}
