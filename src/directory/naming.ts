// Object names for Users and Groups: readable (they start with the directory and the person's or group's
// name), unique per directory (a hash of the directory name and the IdP id), and stable: once an object
// exists, decide() reuses its name, so a rename in the IdP never changes it.
import * as crypto from 'node:crypto';

const MAX_NAME = 253;
const MAX_SLUG = 40;

export function slug(text: string): string {
  // Plain ASCII (nearly every login) has nothing to decompose or strip: one pass over its characters.
  return /^[\x20-\x7e]*$/.test(text) ? asciiSlug(text) : slugByExpressions(text);
}

/** The slug of any text: accents dropped, lower case, the part before "@", runs of other characters as "-". */
export function slugByExpressions(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/@.*$/, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_SLUG)
    .replace(/-+$/, '');
}

/**
 * What the regular expressions above make of printable ASCII, without them: lower case, cut at the first
 * "@" (no line breaks, so the first one), every run of other characters as one "-", no "-" at either end,
 * at most MAX_SLUG characters. Runs of letters and digits are copied as slices, not character by
 * character: a first sync names a hundred thousand people, and each appended character is a new string.
 */
function asciiSlug(text: string): string {
  const lower = text.toLowerCase();
  let out = '';
  let runStart = -1;
  for (let i = 0; i <= lower.length; i++) {
    const code = i < lower.length ? lower.charCodeAt(i) : 0x40;
    if ((code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39)) {
      if (runStart < 0) runStart = i;
      continue;
    }
    if (runStart >= 0) {
      const run = lower.slice(runStart, i);
      out = out ? `${out}-${run}` : run;
      runStart = -1;
      if (out.length >= MAX_SLUG) break;
    }
    if (code === 0x40) break;
  }
  if (out.length > MAX_SLUG) out = out.slice(0, MAX_SLUG);
  return out.endsWith('-') ? out.slice(0, -1) : out;
}

export function shortHash(...parts: string[]): string {
  return sha256Hex(parts.join('\u0000')).slice(0, 8);
}

/** A label-safe hash of an IdP id (ids may be longer than 63 characters or contain any character). */
export function idHash(idpId: string): string {
  return sha256Hex(idpId).slice(0, 40);
}

// crypto.hash (Node 20.12 and later) hashes a string in one call, a few times faster than a Hash object;
// names are hashed for every person on a first sync.
const oneShot = (crypto as { hash?: (algorithm: string, data: string) => string }).hash;
const sha256Hex: (data: string) => string = oneShot
  ? (data) => oneShot('sha256', data)
  : (data) => crypto.createHash('sha256').update(data).digest('hex');

export function objectName(directory: string, readable: string, idpId: string): string {
  const hash = shortHash(directory, idpId);
  const middle = slug(readable);
  const head = `${directory}${middle ? `-${middle}` : ''}`.slice(0, MAX_NAME - hash.length - 1);
  return `${head}-${hash}`;
}

/** Turns a glob with * and ? into an anchored, case-insensitive RegExp. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}
