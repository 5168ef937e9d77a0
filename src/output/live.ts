// A live terminal view: an ora spinner whose text is a block of lines, redrawn at most 10 times a second, with lines persisted above it.
import type { IO } from '../context.js';
import { escapeControl } from './escape.js';

export interface LiveView {
  /** Redraws from `lines()`; throttled unless forced. */
  redraw(force?: boolean): void;
  /** Prints a finished line above the live block. */
  persist(line: string): void;
  /** Ends the view with a final line (a check mark), or just stops. */
  finish(text?: string): void;
}

const MAX_LINES = 12;

/** `lines()` gives the head line then one line per item in flight; more than 12 items are summarised. */
export async function liveView(io: IO, first: string, lines: () => [string, ...string[]]): Promise<LiveView> {
  const { default: ora } = await import('ora');
  // discardStdin off: ora would put the terminal in raw mode (no isig), so a typed Ctrl-C would never be SIGINT.
  const stream = io.stderr as NodeJS.WriteStream;
  const spinner = ora({ stream, text: first, color: 'cyan', isEnabled: true, discardStdin: false }).start();
  // Whatever way the process ends (a second Ctrl-C exits at once), the view is cleared and the cursor shown again.
  const onExit = () => {
    if (spinner.isSpinning) spinner.stop();
  };
  process.once('exit', onExit);
  let last = 0;
  return {
    redraw(force = false) {
      const now = Date.now();
      if (!force && now - last < 100) return;
      last = now;
      const [head, ...items] = lines();
      const shown = items.slice(0, MAX_LINES);
      if (items.length > MAX_LINES) shown.push(`  … ${items.length - MAX_LINES} more`);
      spinner.text = escapeControl([head, ...shown].join('\n'));
    },
    persist(line) {
      spinner.clear();
      io.stderr.write(`${escapeControl(line)}\n`);
      spinner.render();
    },
    finish(text) {
      process.off('exit', onExit);
      if (text) spinner.succeed(escapeControl(text));
      else spinner.stop();
    },
  };
}
