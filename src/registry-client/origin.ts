// Where credentials may go: only to the registry's own origin (and its token realm), never down to plain HTTP.
// go-containerregistry's transports are the model: Authorization is set only when the request's host and scheme
// match the registry's, whatever URL (an upload Location, a Link, a redirect) the request was sent to.
import { RegctlError } from '../errors.js';
import { redactUrl } from './errors.js';

/** The registry origin that answered with `url` owns it: Authorization and challenges count only there. */
export function isOwnOrigin(registryOrigin: string, url: URL | string): boolean {
  return new URL(url).origin === registryOrigin;
}

/**
 * A URL the registry handed over (an upload `Location`, a `Link`, a redirect), resolved against `base`; refused when
 * its path has dot segments (`..`, `.`, or percent-encoded): parsing would quietly collapse them into another path.
 */
export function resolveHanded(raw: string, base: string | URL, what: string): URL {
  const path = raw.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').replace(/[?#].*$/s, '');
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new RegctlError('BAD_RESPONSE', `${what}: the registry sent an invalid URL`);
  }
  if (path.split('/').some((seg) => /^(?:\.|%2e){1,2}$/i.test(seg))) {
    const shown = redactUrl(url.toString());
    throw new RegctlError('BAD_RESPONSE', `${what}: the registry sent a URL with "." or ".." path segments (${shown})`);
  }
  return url;
}

/**
 * Checks a handed-over URL before it is requested: http(s) only, and no step down from HTTPS to plain HTTP, whichever
 * origin it names (`from`: the URL that handed it over, when that was not the registry's own origin).
 */
export function checkHandedUrl(registryOrigin: string, url: URL, what: string, from?: URL): void {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    const scheme = url.protocol.replace(':', '');
    throw new RegctlError('BAD_RESPONSE', `${what}: the registry sent a ${scheme} URL; only http(s) is followed`);
  }
  if ((registryOrigin.startsWith('https:') || from?.protocol === 'https:') && url.protocol === 'http:') {
    const shown = redactUrl(url.toString());
    throw new RegctlError('INSECURE_URL', `${what}: refused to move from HTTPS to plain HTTP (${shown})`, {
      hint: "the registry pointed at an http:// URL; regctl never sends an HTTPS registry's requests unencrypted",
    });
  }
}

/**
 * A Bearer realm over plain HTTP would receive the password (Basic) in cleartext: refused for an HTTPS registry
 * unless the hosts config allows it for this registry (`"allowHttpRealm": true`).
 */
export function checkRealm(registry: string, origin: string, realm: string | undefined, allowHttp: boolean): void {
  if (!realm || allowHttp || !origin.startsWith('https:')) return;
  let u: URL;
  try {
    u = new URL(realm);
  } catch {
    throw new RegctlError('AUTH_FAILED', `${registry}: the registry's token realm is not a URL`);
  }
  if (u.protocol !== 'http:') return;
  const shown = redactUrl(`${u.origin}${u.pathname}`);
  const message = `${registry}: refused the token realm ${shown}: plain HTTP for an HTTPS registry`;
  throw new RegctlError('INSECURE_REALM', message, {
    hint:
      'credentials would cross the network unencrypted; if that is intended, set ' +
      `{"hosts": {"${registry}": {"allowHttpRealm": true}}} in the hosts config ($REGCTL_CONFIG)`,
  });
}
