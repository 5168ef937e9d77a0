// Dockerfile parsing and Docker's variable expansion: directives, continuations, comments, flags, JSON forms, $VAR
// rules.
import { describe, expect, it } from 'vitest';
import { parseDockerfile, toStages } from '../../src/builder/dockerfile.js';
import { expandWord, expandWords } from '../../src/builder/expand.js';
import { keyValues, parseDuration, parsePorts, splitWords } from '../../src/builder/instructions.js';

const env = new Map([
  ['A', 'alpha'],
  ['EMPTY', ''],
  ['SP', 'a b  c'],
  ['PATHV', '/usr/local/bin:/usr/bin'],
  ['FILE', 'archive.tar.gz'],
]);

describe('expandWord (Docker ProcessWord)', () => {
  it.each<[string, string]>([
    ['$A', 'alpha'],
    ['${A}', 'alpha'],
    ['x${A}y', 'xalphay'],
    ['$A-$A', 'alpha-alpha'],
    ['$UNSET', ''],
    ['${UNSET:-def}', 'def'],
    ['${UNSET-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${EMPTY-def}', ''],
    ['${A:-def}', 'alpha'],
    ['${A:+alt}', 'alt'],
    ['${UNSET:+alt}', ''],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET:-${A}}', 'alpha'],
    ['\\$A', '$A'],
    ["'$A'", '$A'],
    ['"$A"', 'alpha'],
    ['"\\$A"', '$A'],
    ['"a\\"b"', 'a"b'],
    ['"a\\b"', 'a\\b'],
    ['a\\ b', 'a b'],
    ['$', '$'],
    ['a$', 'a$'],
    ['${FILE%.gz}', 'archive.tar'],
    ['${FILE%%.*}', 'archive'],
    ['${FILE#*.}', 'tar.gz'],
    ['${FILE##*.}', 'gz'],
    ['${PATHV/usr/opt}', '/opt/local/bin:/usr/bin'],
    ['${PATHV//usr/opt}', '/opt/local/bin:/opt/bin'],
    ['$1x', 'x'],
    ['${A}${A}', 'alphaalpha'],
  ])('%s → %s', (word, want) => {
    expect(expandWord(word, env)).toBe(want);
  });

  it.each(['${A', '${}', '${:x}', '"open', "'open", '${UNSET:?must be set}'])('refuses %s', (word) => {
    expect(() => expandWord(word, env)).toThrow();
  });

  it('uses the escape directive character', () => {
    expect(expandWord('`$A', env, '`')).toBe('$A');
    expect(expandWord('C:\\dir', env, '`')).toBe('C:\\dir');
  });
});

describe('expandWords (Docker ProcessWords)', () => {
  it.each<[string, string[]]>([
    ['a b', ['a', 'b']],
    ['$SP', ['a', 'b', 'c']],
    ['"$SP"', ['a b  c']],
    ["'x y' z", ['x y', 'z']],
    ['80 $A/tcp', ['80', 'alpha/tcp']],
  ])('%s → %j', (word, want) => {
    expect(expandWords(word, env)).toEqual(want);
  });
});

describe('splitWords (key=value lists)', () => {
  it.each<[string, string[]]>([
    ['a=1 b=2', ['a=1', 'b=2']],
    ['a="x y" b=2', ['a="x y"', 'b=2']],
    ["a='x y'", ["a='x y'"]],
    ['a=x\\ y', ['a=x\\ y']],
    ['a="" b=', ['a=""', 'b=']],
  ])('%s → %j', (rest, want) => {
    expect(splitWords(rest)).toEqual(want);
  });
});

describe('parseDockerfile', () => {
  it('reads directives only at the top, then instructions with continuations and comments', () => {
    const df = parseDockerfile(
      [
        '# syntax=docker/dockerfile:1',
        '# escape=`',
        '',
        '# a comment',
        'FROM scratch',
        'ENV A=1 `',
        '  # a comment inside a continuation',
        '',
        '    B=2',
        'copy --chown=1:2 --chmod="644" a b /x/',
        'CMD ["/bin/app", "--flag"]',
        'ENTRYPOINT /bin/app arg',
        '# escape=\\',
      ].join('\n'),
    );
    expect(df.escape).toBe('`');
    expect(df.syntax).toBe('docker/dockerfile:1');
    expect(df.instructions.map((i) => [i.keyword, i.line])).toEqual([
      ['FROM', 5],
      ['ENV', 6],
      ['COPY', 10],
      ['CMD', 11],
      ['ENTRYPOINT', 12],
    ]);
    expect(df.instructions[1].args).toBe('A=1     B=2');
    expect(df.instructions[2].flags).toEqual([
      { name: 'chown', value: '1:2' },
      { name: 'chmod', value: '644' },
    ]);
    expect(df.instructions[2].args).toBe('a b /x/');
    expect(df.instructions[3].json).toEqual(['/bin/app', '--flag']);
    expect(df.instructions[4].json).toBeUndefined();
  });

  it('keeps a backslash continuation by default and handles CRLF', () => {
    const df = parseDockerfile('FROM scratch\r\nLABEL a=1 \\\r\n  b=2\r\n');
    expect(df.instructions[1].args).toBe('a=1   b=2');
  });

  it('groups stages and global ARGs', () => {
    const st = toStages(
      parseDockerfile('ARG V=1\nFROM alpine:$V AS Build\nCOPY a /\nFROM scratch\nCOPY --from=build /a /'),
    );
    expect(st.globalArgs).toHaveLength(1);
    expect(st.stages.map((s) => [s.name, s.body.length])).toEqual([
      ['build', 1],
      [undefined, 1],
    ]);
  });

  it.each<[string, RegExp]>([
    ['COPY a /', /Dockerfile:1: COPY before the first FROM/],
    ['FROM a b', /FROM takes an image/],
    ['FROM a AS x\nFROM b AS x', /duplicate stage name/],
    ['# escape=x\nFROM a', /invalid escape token/],
    ['', /no FROM instruction/],
    ['FROM a\nCOPY <<EOF /x\nhello\nEOF', /Dockerfile:2: heredocs/],
  ])('refuses %j', (text, re) => {
    expect(() => toStages(parseDockerfile(text))).toThrow(re);
  });
});

describe('instruction arguments', () => {
  const ins = (text: string) => parseDockerfile(`FROM scratch\n${text}`).instructions[1];
  it('ENV key=value pairs and the legacy form', () => {
    expect(keyValues(ins('ENV a=1 b="two words" c=$A'), env, '\\', true)).toEqual([
      ['a', '1'],
      ['b', 'two words'],
      ['c', 'alpha'],
    ]);
    expect(keyValues(ins('ENV key value with spaces'), env, '\\', true)).toEqual([['key', 'value with spaces']]);
    expect(() => keyValues(ins('LABEL a=1 b'), env, '\\', true)).toThrow(/can't find =/);
  });

  it.each<[string, string[]]>([
    ['80', ['80/tcp']],
    ['53/udp 443/TCP', ['53/udp', '443/tcp']],
    ['8000-8002', ['8000/tcp', '8001/tcp', '8002/tcp']],
  ])('EXPOSE %s', (text, want) => {
    expect(parsePorts(ins(`EXPOSE ${text}`), text.split(' '))).toEqual(want);
  });

  it.each<[string, number]>([
    ['30s', 30e9],
    ['1m30s', 90e9],
    ['500ms', 5e8],
    ['1h', 3600e9],
  ])('duration %s', (text, ns) => {
    expect(parseDuration(ins('HEALTHCHECK NONE'), 'interval', text)).toBe(ns);
  });
});
