// The list of commands, in the order help shows them.
import { buildCommand } from './build.js';
import { completionCommand } from './completion.js';
import { copyCommand } from './copy.js';
import { digestCommand } from './digest.js';
import { imagesCommand } from './images.js';
import { inspectCommand } from './inspect.js';
import { loginCommand, logoutCommand } from './login.js';
import { mutateCommand } from './mutate.js';
import { catalogCommand, lsCommand } from './ls.js';
import { pruneCommand } from './prune.js';
import { referrersCommand } from './referrers.js';
import { pullCommand, pushCommand } from './pull.js';
import { repoCommand } from './repo.js';
import { rmCommand } from './rm.js';
import { syncCommand } from './sync.js';
import { tagCommand } from './tag.js';
import type { CommandDef } from './types.js';

export const commands: CommandDef[] = [
  copyCommand,
  pullCommand,
  pushCommand,
  tagCommand,
  inspectCommand,
  digestCommand,
  referrersCommand,
  lsCommand,
  catalogCommand,
  rmCommand,
  imagesCommand,
  pruneCommand,
  repoCommand,
  buildCommand,
  mutateCommand,
  syncCommand,
  loginCommand,
  logoutCommand,
  completionCommand,
];
