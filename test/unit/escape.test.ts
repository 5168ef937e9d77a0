// escapeControl / jsonForTerminal (issue 14, item 10): no control character from outside reaches a terminal raw.
import { describe, expect, it } from 'vitest';
import { escapeControl, jsonForTerminal } from '../../src/util/escape.js';

describe('escapeControl', () => {
  it.each<[string, string, string]>([
    ['OSC title + BEL', '\u001b]0;pwned\u0007', '\\x1b]0;pwned\\x07'],
    ['CSI clear screen', 'a\u001b[2Jb', 'a\\x1b[2Jb'],
    ['carriage return (overwrites a line)', 'ok\rFAIL', 'ok\\x0dFAIL'],
    ['DEL and C1 CSI', '\u007f\u009b31m', '\\x7f\\x9b31m'],
    ['newlines and tabs kept', 'a\n\tb', 'a\n\tb'],
    ['printable unicode untouched', 'café ✓ 日本', 'café ✓ 日本'],
  ])('%s', (_name, input, want) => {
    expect(escapeControl(input)).toBe(want);
  });

  it('oneLine also escapes newlines', () => {
    expect(escapeControl('a\nb', { oneLine: true })).toBe('a\\x0ab');
  });

  it('field escapes tabs and newlines too (a value in a column or a header line)', () => {
    expect(escapeControl('a\tb\nc\u001b', { field: true })).toBe('a\\x09b\\x0ac\\x1b');
  });
});

describe('jsonForTerminal', () => {
  it('writes DEL and C1 as \\u00XX: still JSON, the same value, nothing raw', () => {
    const value = { label: '\u001b[2J\u009b\u007f' };
    const text = jsonForTerminal(value);
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(JSON.parse(text)).toEqual(value);
  });
});
