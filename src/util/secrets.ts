// The secrets regctl holds (passwords, tokens, their base64 and URL forms), masked by value wherever text is shown.
// Patterns (`Bearer …`, `?X-Amz-Signature=…`) catch secrets by shape; this catches them by value, so a registry
// that echoes a password or a Basic value in its own words (`bad password Hunter2…`, `creds YWxp…`) can't print it.

/** Shorter values are not masked by value (they would mask ordinary words); patterns still mask them in headers. */
const MIN_LENGTH = 6;
const known = new Set<string>();
let ordered: string[] = [];

function add(v: string): void {
  if (v.length < MIN_LENGTH || known.has(v)) return;
  known.add(v);
  // Longest first: a token that contains another secret is masked whole.
  ordered = [...known].sort((a, b) => b.length - a.length);
}

/** base64 with its padding (masked whole) and without it (where it is cut or re-encoded). */
function addBase64(value: string): void {
  const b64 = Buffer.from(value).toString('base64');
  add(b64);
  add(b64.replace(/=+$/, ''));
}

/** Remembers a secret for masking: the value, its base64 (and base64url) and its URL-encoded form. */
export function rememberSecret(value: string | undefined): void {
  if (!value || value.length < MIN_LENGTH) return;
  add(value);
  addBase64(value);
  add(Buffer.from(value).toString('base64url'));
  add(encodeURIComponent(value));
}

/** A username and password: the password, and `user:password` in base64 as a Basic header carries it. */
export function rememberLogin(username: string | undefined, password: string | undefined): void {
  if (!password) return;
  rememberSecret(password);
  if (username !== undefined) addBase64(`${username}:${password}`);
}

/** `text` with every remembered secret replaced by `***`. */
export function maskSecrets(text: string): string {
  let out = text;
  for (const s of ordered) if (out.includes(s)) out = out.split(s).join('***');
  return out;
}

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  // Authorization values: `Bearer eyJ…`, `Basic YWxp…`
  // (a value has a capital, a digit or base64 punctuation: `a Bearer challenge` is left alone)
  [/\b([Bb]earer|[Bb]asic|BEARER|BASIC)(\s+)(?!realm\b)(?=[\w.~+/=-]*[A-Z0-9+/=])[\w.~+/=-]{6,}/g, '$1$2***'],
  // JWTs anywhere (registry tokens)
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, '***'],
  // user:password@ in URLs
  [/(\/\/)[^/\s:@]+:[^/\s@]+@/g, '$1***:***@'],
  // signed or secret query parameters: X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, Signature, sig, token,
  // … and Docker Hub's CDN `verify=` (Cloudflare signed URLs)
  [
    /([?&][\w.-]*(?:sig|signature|token|credential|secret|password|passwd|key|auth|verify)[\w.-]*=)[^&\s#"'<>]*/gi,
    '$1***',
  ],
  // JSON secrets: "password": "…", "identitytoken": "…"
  [
    /("(?:password|secret|token|access_token|refresh_token|identitytoken|registrytoken|auth)"\s*:\s*")[^"]*"/gi,
    '$1***"',
  ],
];

/**
 * Masks credentials in free text (an error body, a log line): Authorization values, JWTs, URL passwords, signed query
 * strings.
 */
export function redactText(text: string): string {
  let out = text;
  for (const [re, to] of SECRET_PATTERNS) out = out.replace(re, to);
  return maskSecrets(out);
}
