// Questions on the terminal (a user name, a hidden password, yes/no), read in raw mode; only where stdin is a TTY.
import type { ReadStream } from 'node:tty';
import { RegctlError } from '../errors.js';

/** Whether a question can be asked: stdin and stderr (where the question is written) are a terminal. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

function interrupted(): Error {
  return Object.assign(new Error('interrupted'), { name: 'AbortError' });
}

/**
 * Writes `question` to stderr and reads one line from the terminal. `hidden`: nothing is echoed (a password).
 * Backspace erases, Ctrl-U clears, Ctrl-C interrupts (exit 130), Ctrl-D on an empty line ends with no answer.
 */
export function ask(question: string, opts: { hidden?: boolean; signal?: AbortSignal } = {}): Promise<string> {
  const stdin = process.stdin as ReadStream;
  const out = process.stderr;
  // Raw mode (no echo) first, then the question: whoever answers once the question shows is never echoed.
  stdin.setRawMode(true);
  out.write(question);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise<string>((resolve, reject) => {
    let chars: string[] = [];
    const echo = (s: string) => {
      if (!opts.hidden) out.write(s);
    };
    const end = (err?: Error) => {
      stdin.off('data', onData);
      opts.signal?.removeEventListener('abort', onAbort);
      stdin.setRawMode(false);
      stdin.pause();
      out.write('\n');
      if (err) reject(err);
      else resolve(chars.join(''));
    };
    const onAbort = () => end(interrupted());
    let escape = false;
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        // An escape sequence (an arrow key, a function key) is no part of the answer: skip it to its final letter.
        if (escape) {
          escape = !/[A-Za-z~]/.test(ch);
          continue;
        }
        if (ch === '\x1b') {
          escape = true;
          continue;
        }
        if (ch === '\r' || ch === '\n') return end();
        if (ch === '\u0003') return end(interrupted());
        if (ch === '\u0004') {
          if (!chars.length) return end(new RegctlError('NO_ANSWER', 'no answer given', { exitCode: 2 }));
        } else if (ch === '\u007f' || ch === '\b') {
          if (chars.length) {
            chars.pop();
            echo('\b \b');
          }
        } else if (ch === '\u0015') {
          echo('\b \b'.repeat(chars.length));
          chars = [];
        } else if (ch >= ' ') {
          chars.push(ch);
          echo(ch);
        }
      }
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    stdin.on('data', onData);
  });
}

/** Asks a yes/no question; only y or yes (any case) is yes. */
export async function confirm(question: string, signal?: AbortSignal): Promise<boolean> {
  return /^\s*y(es)?\s*$/i.test(await ask(`${question} [y/N] `, { signal }));
}
