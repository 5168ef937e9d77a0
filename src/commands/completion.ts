// `completion bash|zsh|fish`: a completion script for the shell, read from the command definitions themselves.
import { UsageError } from '../errors.js';
import type { CommandDef } from './types.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;

export const completionCommand: CommandDef = {
  name: 'completion',
  args: '<shell>',
  summary: 'print a completion script for bash, zsh or fish (commands, flags, location prefixes)',
  examples: [
    'source <(regctl completion bash)   # in ~/.bashrc',
    'regctl completion zsh > "${fpath[1]}/_regctl"',
    'regctl completion fish > ~/.config/fish/completions/regctl.fish',
  ],
  async run(_ctx, [shell]) {
    if (!(SHELLS as readonly string[]).includes(shell)) {
      throw new UsageError(`completion: unknown shell ${JSON.stringify(shell)}`, `give one of ${SHELLS.join(', ')}`);
    }
    // The program as the CLI builds it (imported here: cli.ts imports this list), so the scripts never drift.
    const [{ buildProgram }, gen] = await Promise.all([import('../cli.js'), import('../output/completion.js')]);
    const spec = gen.describeProgram(
      buildProgram(() => {}),
      { completion: [...SHELLS] },
    );
    const write = { bash: gen.bashScript, zsh: gen.zshScript, fish: gen.fishScript }[shell as (typeof SHELLS)[number]];
    const script = write(spec);
    return { raw: new TextEncoder().encode(script) };
  },
};
