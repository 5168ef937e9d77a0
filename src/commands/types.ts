// CommandDef: a command as data (name, summary, examples, flags) whose handler returns its output.
import type { Command } from 'commander';
import type { AppContext } from '../context.js';

/** `raw`: stdout is data to be written exactly (`inspect --raw`); control characters are escaped only on a terminal. */
export type CommandResult = { stdout?: string; json?: unknown; exitCode?: 0 | 1; raw?: boolean };

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
