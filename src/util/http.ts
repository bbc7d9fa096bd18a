// URL and header rules shared by everything that calls out of the cluster: IdP drivers and webhooks.
import { StallError } from '../errors.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith('127.');
}

/** Throws a StallError when a configured URL is not allowed. */
export function checkUrlPolicy(raw: string, allowInsecureLoopback: boolean | undefined, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new StallError('InvalidConfiguration', `${what} "${raw}" is not a valid URL`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && allowInsecureLoopback && isLoopbackUrl(url)) return url;
  if (url.protocol === 'http:' && isLoopbackUrl(url)) {
    throw new StallError(
      'InvalidConfiguration',
      `${what} "${url.origin}" uses plain HTTP; set spec.provider.allowInsecureLoopback: true to permit it for loopback addresses`,
    );
  }
  throw new StallError('InvalidConfiguration', `${what} "${url.origin}" must use https://`);
}

export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function describeUrl(url: string | URL): string {
  const u = new URL(String(url));
  return `${u.origin}${u.pathname}`;
}
