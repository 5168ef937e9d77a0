// Text that came from outside (labels, tags, annotations, registry error text, names from archives) on its way to a
// terminal: control characters are shown escaped, so none can retitle, clear or rewrite the user's terminal.

// C0 controls but newline and tab, DEL, and the C1 controls (U+009B is a one-character CSI on many terminals).
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const CONTROL_AND_NEWLINE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;
const EVERY_CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

const hex = (c: string): string => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/**
 * `text` with every control character written as `\xHH`: newlines and tabs kept, unless `oneLine` (newlines escaped
 * too) or `field` (tabs and newlines escaped: a value in a table column or a header line).
 */
export function escapeControl(text: string, opts: { oneLine?: boolean; field?: boolean } = {}): string {
  return text.replace(opts.field ? EVERY_CONTROL : opts.oneLine ? CONTROL_AND_NEWLINE : CONTROL, hex);
}

/**
 * JSON for stdout: JSON.stringify escapes C0 controls but leaves DEL and C1 raw (JSON allows them); those are written
 * as `\u00XX` too, which is the same JSON value.
 */
export function jsonForTerminal(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}
