// The list of commands, in the order help shows them.
import { copyCommand } from './copy.js';
import { digestCommand } from './digest.js';
import { inspectCommand } from './inspect.js';
import { loginCommand, logoutCommand } from './login.js';
import { catalogCommand, lsCommand } from './ls.js';
import { pullCommand, pushCommand } from './pull.js';
import { rmCommand } from './rm.js';
import { tagCommand } from './tag.js';
import type { CommandDef } from './types.js';

export const commands: CommandDef[] = [
  copyCommand,
  pullCommand,
  pushCommand,
  tagCommand,
  inspectCommand,
  digestCommand,
  lsCommand,
  catalogCommand,
  rmCommand,
  loginCommand,
  logoutCommand,
];
