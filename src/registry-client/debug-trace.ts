// --debug trace of one HTTP exchange: request and answer headers, with every secret masked and control chars escaped.
import { escapeControl } from '../util/escape.js';
import { redactText, redactUrl } from './errors.js';

type HeaderBag = Record<string, string | string[] | undefined>;

const MAX_HEADERS = 64;
const MAX_VALUE = 512;

/** Headers whose whole value is a secret: only the auth scheme (if any) is kept. */
const SECRET =
  /^(authorization|proxy-authorization|cookie|set-cookie|x-amz-security-token|x-registry-auth|x-api-key)$/i;
/** Other names that smell of a secret (a vendor's token header): masked whole. */
const SECRETISH = /token|secret|password|passwd|credential|signature|api-?key|session/i;

function shown(name: string, value: string): string {
  const n = name.toLowerCase();
  if (SECRET.test(n)) {
    const scheme = /^\s*(Basic|Bearer|Digest|AWS4-HMAC-SHA256)\b/i.exec(value);
    return scheme ? `${scheme[1]} ***` : '***';
  }
  if (SECRETISH.test(n)) return '***';
  const v = n === 'location' || n === 'content-location' ? redactUrl(value) : value;
  const capped = v.length > MAX_VALUE ? `${v.slice(0, MAX_VALUE)}…` : v;
  return redactText(escapeControl(capped, { field: true }));
}

/** One line per header, `PREFIX name: value`, sorted by name, secrets masked; at most 64 lines. */
export function headerLines(prefix: '>' | '<', headers: HeaderBag): string[] {
  const out: string[] = [];
  const names = Object.keys(headers).sort();
  for (const name of names) {
    const raw = headers[name];
    for (const value of Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]) {
      if (out.length >= MAX_HEADERS) return [...out, `${prefix}   … (more headers not shown)`];
      out.push(`${prefix}   ${escapeControl(name.toLowerCase(), { field: true })}: ${shown(name, String(value))}`);
    }
  }
  return out;
}
