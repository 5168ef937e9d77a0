// Shell completion scripts (bash, zsh, fish) written from a description of the commander program, so they never drift.
import type { Command, Option } from 'commander';

export interface CompletionOption {
  /** `--jobs` */
  long?: string;
  /** `-j` */
  short?: string;
  takesValue: boolean;
  description: string;
}

export interface CompletionCommand {
  name: string;
  aliases: string[];
  summary: string;
  options: CompletionOption[];
  /** the positional arguments are image locations: offer the location prefixes and file names */
  locations: boolean;
  /** fixed words for the first argument (the shells of `completion`) */
  words: string[];
}

export interface CompletionSpec {
  program: string;
  globals: CompletionOption[];
  commands: CompletionCommand[];
}

/** The location prefixes of SPEC.md: local formats, and docker:// for a registry spelt out. */
export const LOCATION_PREFIXES = ['docker://', 'docker-archive:', 'oci:', 'oci-archive:'];

const LOCATION_ARGS = new Set(['src', 'dst', 'ref', 'path', 'location']);

function option(o: Option): CompletionOption {
  return { long: o.long, short: o.short, takesValue: o.required || o.optional, description: o.description };
}

/** Reads the commands, their aliases, options and arguments from the built program. */
export function describeProgram(program: Command, words: Record<string, string[]> = {}): CompletionSpec {
  return {
    program: program.name(),
    globals: program.options.map(option),
    commands: program.commands.map((c) => ({
      name: c.name(),
      aliases: c.aliases(),
      summary: c.description(),
      options: c.options.map(option),
      locations: c.registeredArguments.some((a) => LOCATION_ARGS.has(a.name())),
      words: words[c.name()] ?? [],
    })),
  };
}

const flagsOf = (opts: CompletionOption[]) => opts.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
const valued = (opts: CompletionOption[]) => flagsOf(opts.filter((o) => o.takesValue));
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const fn = (spec: CompletionSpec) => `_${spec.program.replace(/[^A-Za-z0-9_]/g, '_')}`;

export function bashScript(spec: CompletionSpec): string {
  const f = fn(spec);
  const names = spec.commands.flatMap((c) => [c.name, ...c.aliases]);
  const cases = spec.commands
    .map((c) => {
      const pattern = [c.name, ...c.aliases].join('|');
      const flags = `flags=${sq(flagsOf(c.options).join(' '))}; values=${sq(valued(c.options).join(' '))}`;
      return `    ${pattern}) ${flags}; locs=${c.locations ? 1 : 0}; words=${sq(c.words.join(' '))} ;;`;
    })
    .join('\n');
  return `# ${spec.program} completion for bash. Load it now:   source <(${spec.program} completion bash)
# or for every shell:   ${spec.program} completion bash > ~/.local/share/bash-completion/completions/${spec.program}
${f}() {
  local line="\${COMP_LINE:0:COMP_POINT}"
  # The word as typed, colons included (bash splits words at ':' for COMP_WORDS).
  local cur="\${line##*[[:space:]]}"
  local globals=${sq(flagsOf(spec.globals).join(' '))}
  local gvalues=${sq(valued(spec.globals).join(' '))}
  local cmd="" flags="" values="" locs=0 words="" skip=0 i w
  local -a toks
  read -r -a toks <<< "\${line% *}"
  [[ "$line" != *[[:space:]]* ]] && toks=()
  for ((i = 1; i < \${#toks[@]}; i++)); do
    w="\${toks[i]}"
    if ((skip)); then skip=0; continue; fi
    if [[ "$w" == -* ]]; then
      [[ " $gvalues $values " == *" $w "* ]] && skip=1
      continue
    fi
    if [[ -z "$cmd" ]]; then
      cmd="$w"
      case "$cmd" in
${cases}
      esac
    fi
  done
  COMPREPLY=()
  if ((skip)); then
    COMPREPLY=($(compgen -f -- "$cur"))
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags $globals" -- "$cur"))
  elif [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W ${sq(names.join(' '))} -- "$cur"))
  elif [[ -n "$words" ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  elif ((locs)); then
    case "$cur" in
      docker-archive:*|oci:*|oci-archive:*)
        local path="\${cur#*:}" p
        for p in $(compgen -f -- "$path"); do
          [[ -d "$p" ]] && p="$p/"
          COMPREPLY+=("\${cur%%:*}:$p")
        done ;;
      *) COMPREPLY=($(compgen -W ${sq(LOCATION_PREFIXES.join(' '))} -- "$cur") $(compgen -f -- "$cur")) ;;
    esac
    # bash replaces only the part after the last ':' (COMP_WORDBREAKS): give it just that part.
    if [[ "$COMP_WORDBREAKS" == *:* && "$cur" == *:* ]]; then
      local drop="\${cur%:*}:" k
      for k in "\${!COMPREPLY[@]}"; do COMPREPLY[k]="\${COMPREPLY[k]#"$drop"}"; done
    fi
    compopt -o nospace 2>/dev/null
    local c
    for c in "\${COMPREPLY[@]}"; do [[ "$c" != */ && "$c" != *: ]] && { compopt +o nospace 2>/dev/null; break; }; done
  fi
  return 0
}
complete -F ${f} ${spec.program}
`;
}

export function zshScript(spec: CompletionSpec): string {
  const f = fn(spec);
  const zq = (s: string) => s.replace(/([:\\])/g, '\\$1');
  const describe = spec.commands
    .flatMap((c) => [c.name, ...c.aliases].map((n) => sq(`${n}:${zq(c.summary)}`)))
    .join(' ');
  const flagList = (opts: CompletionOption[]) =>
    opts.flatMap((o) => flagsOf([o]).map((x) => sq(`${x.replace(/:/g, '\\:')}:${zq(o.description)}`))).join(' ');
  const cases = spec.commands
    .map((c) => {
      const body = [
        `flags=(${flagList(c.options)})`,
        `values=(${valued(c.options).join(' ')})`,
        `locs=${c.locations ? 1 : 0}`,
        `choices=(${c.words.join(' ')})`,
      ].join('; ');
      return `      ${[c.name, ...c.aliases].join('|')}) ${body} ;;`;
    })
    .join('\n');
  return `#compdef ${spec.program}
# ${spec.program} completion for zsh. Load it now:   source <(${spec.program} completion zsh)
# or put it on $fpath as _${spec.program}:   ${spec.program} completion zsh > "\${fpath[1]}/_${spec.program}"
${f}() {
  local -a commands globals gvalues flags values choices
  local cmd="" locs=0 skip=0 i w
  commands=(${describe})
  globals=(${flagList(spec.globals)})
  gvalues=(${valued(spec.globals).join(' ')})
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    if ((skip)); then skip=0; continue; fi
    if [[ $w == -* ]]; then
      (( \${gvalues[(Ie)$w]} || \${values[(Ie)$w]} )) && skip=1
      continue
    fi
    if [[ -z $cmd ]]; then
      cmd=$w
      case $cmd in
${cases}
      esac
    fi
  done
  if ((skip)); then _files; return; fi
  if [[ $PREFIX == -* ]]; then
    _describe -t flags 'flag' flags -- globals
  elif [[ -z $cmd ]]; then
    _describe -t commands 'command' commands
  elif (( \${#choices} )); then
    compadd -a choices
  elif ((locs)); then
    if [[ $PREFIX == (docker-archive|oci|oci-archive):* ]]; then
      compset -P '*:'
      _files
    else
      compadd -S '' ${LOCATION_PREFIXES.join(' ')}
      _files
    fi
  fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${f} "$@"
else
  compdef ${f} ${spec.program}
fi
`;
}

export function fishScript(spec: CompletionSpec): string {
  const p = spec.program;
  const lines = [
    `# ${p} completion for fish. Load it now:   ${p} completion fish | source`,
    `# or for every shell:   ${p} completion fish > ~/.config/fish/completions/${p}.fish`,
    `complete -c ${p} -f`,
  ];
  const opt = (o: CompletionOption, cond?: string) => {
    const parts = [`complete -c ${p}`];
    if (cond) parts.push(`-n ${sq(cond)}`);
    if (o.long) parts.push(`-l ${o.long.replace(/^--/, '')}`);
    if (o.short) parts.push(`-s ${o.short.replace(/^-/, '')}`);
    if (o.takesValue) parts.push('-r');
    parts.push(`-d ${sq(o.description)}`);
    return parts.join(' ');
  };
  for (const o of spec.globals) lines.push(opt(o));
  for (const c of spec.commands) {
    for (const n of [c.name, ...c.aliases]) {
      lines.push(`complete -c ${p} -n __fish_use_subcommand -a ${n} -d ${sq(c.summary)}`);
    }
    const seen = `__fish_seen_subcommand_from ${[c.name, ...c.aliases].join(' ')}`;
    for (const o of c.options) lines.push(opt(o, seen));
    if (c.words.length) lines.push(`complete -c ${p} -n ${sq(seen)} -a ${sq(c.words.join(' '))}`);
    if (c.locations) {
      lines.push(`complete -c ${p} -n ${sq(seen)} -a ${sq(LOCATION_PREFIXES.join(' '))} -d 'location prefix'`);
      lines.push(`complete -c ${p} -n ${sq(seen)} -F`);
    }
  }
  return `${lines.join('\n')}\n`;
}
