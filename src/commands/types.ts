// CommandDef: a command as data (name, summary, examples, flags) whose handler returns its output.
import type { Command } from 'commander';
import type { AppContext } from '../context.js';

/**
 * `stdout` is printed with a newline; `raw` is printed byte for byte (a newline follows only on a terminal, so that
 * `inspect --raw REF | sha256sum` is the digest).
 */
export type CommandResult = { stdout?: string; raw?: Uint8Array; json?: unknown; exitCode?: 0 | 1 };

export interface CommandDef {
  name: string;
  aliases?: string[];
  args: string;
  summary: string;
  examples: string[];
  /** Flags only; cheap (no heavy imports). */
  configure?(cmd: Command): void;
  run(ctx: AppContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult>;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
