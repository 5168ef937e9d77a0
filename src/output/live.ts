// A live terminal view: an ora spinner whose text is a block of lines, redrawn 10 times a second, finished lines
// persisted above it.
import type { IO } from '../context.js';
import { paint, terminalText } from './color.js';

export interface LiveView {
  /** Asks for a redraw from `lines()`: it comes with the next frame (frames are 100 ms apart). */
  redraw(force?: boolean): void;
  /** Prints a finished line above the live block (lines that come together are written together). */
  persist(line: string): void;
  /** Ends the view with a final line (a check mark), or just stops. */
  finish(text?: string): void;
}

const MAX_LINES = 12;
/** One frame per 100 ms at most: the spinner's interval and the view's timer are the same tick. */
const FRAME_MS = 100;

/** `lines()` gives the head line then one line per item in flight; more than 12 items are summarised. */
export async function liveView(io: IO, first: string, lines: () => [string, ...string[]]): Promise<LiveView> {
  const { default: ora } = await import('ora');
  const stream = io.stderr as NodeJS.WriteStream;
  // discardStdin off: ora would put the terminal in raw mode (no isig), so a typed Ctrl-C would never be SIGINT.
  // color from regctl's own decision (NO_COLOR, FORCE_COLOR, --json), not from ora's chalk.
  const spinner = ora({
    stream,
    text: terminalText(first),
    color: io.color ? 'cyan' : false,
    isEnabled: true,
    discardStdin: false,
    interval: FRAME_MS,
  }).start();
  let dirty = false;
  let pending: string[] = [];
  const update = () => {
    if (pending.length) {
      const block = terminalText(pending.join('\n'));
      pending = [];
      // One write: ora's hook clears the block, the lines go above it, the block is drawn again below them.
      stream.write(`${block}\n`);
    }
    if (!dirty) return;
    dirty = false;
    const [head, ...items] = lines();
    const shown = items.slice(0, MAX_LINES);
    if (items.length > MAX_LINES) shown.push(`  … ${items.length - MAX_LINES} more`);
    // What registries and files said (names, messages) cannot rewrite the terminal; our colours stay.
    spinner.text = terminalText([head, ...shown].join('\n'));
  };
  const timer = setInterval(update, FRAME_MS);
  timer.unref();
  // A resize: the rows are laid out again for the new width at once (ora clears by the new width's line count).
  const onResize = () => {
    dirty = true;
    update();
    spinner.render();
  };
  stream.on('resize', onResize);
  // Whatever way the process ends (a second Ctrl-C exits at once), the view is cleared and the cursor shown again.
  const onExit = () => {
    if (spinner.isSpinning) spinner.stop();
  };
  process.once('exit', onExit);
  return {
    redraw() {
      dirty = true;
    },
    persist(line) {
      pending.push(line);
    },
    finish(text) {
      clearInterval(timer);
      stream.off('resize', onResize);
      process.off('exit', onExit);
      const rest = pending;
      pending = [];
      spinner.stop();
      if (rest.length) stream.write(`${terminalText(rest.join('\n'))}\n`);
      // ✔ (written as an escape: the bundle is ASCII)
      if (text) stream.write(`${paint().ok('\u2714')} ${terminalText(text)}\n`);
    },
  };
}
