// Object names for Users and Groups: readable (they start with the directory and the person's or group's
// name), unique per directory (a hash of the directory name and the IdP id), and stable: once an object
// exists, decide() reuses its name, so a rename in the IdP never changes it.
import * as crypto from 'node:crypto';

const MAX_NAME = 253;
const MAX_SLUG = 40;
const HASH_CHARS = 8;
/** The readable part of a name: what is left of MAX_NAME after "-" and the hash. */
const MAX_HEAD = MAX_NAME - HASH_CHARS - 1;

export function slug(text: string): string {
  // Plain ASCII (nearly every login) has nothing to decompose or strip: one pass over its characters.
  const end = asciiSlugInto(text, SLUG_AREA);
  return end >= 0 ? scratch.toString('latin1', SLUG_AREA, end) : slugByExpressions(text);
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

// Names are assembled here and read out as one string: a first sync names a hundred thousand people,
// and every intermediate string (a lower-cased copy, each run, each concatenation) would be garbage.
// objectName keeps the last directory it wrote at the start, since a sync names everything in one
// directory; slug() writes only in the last MAX_SLUG bytes, which no directory reaches.
const scratch = Buffer.alloc(MAX_HEAD + 1 + MAX_SLUG);
const SLUG_AREA = MAX_HEAD + 1;
let directoryWritten: string | undefined;
const DASH = 0x2d;

/**
 * Writes at `start` what slugByExpressions makes of printable ASCII, without the expressions: lower case,
 * cut at the first "@", every run of other characters as one "-", no "-" at either end, at most MAX_SLUG
 * characters. Returns where the slug ends, or -1 (nothing usable written) if the text is not printable ASCII.
 */
function asciiSlugInto(text: string, start: number): number {
  const limit = start + MAX_SLUG;
  let end = start;
  let gap = false;
  let ended = false;
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) return -1;
    // Past the first "@" (or the limit) the text is only checked: any other character means the
    // expressions decide, and they treat a line break after an "@" differently.
    if (ended) continue;
    if (code === 0x40) {
      ended = true;
      continue;
    }
    if (code >= 0x41 && code <= 0x5a) code += 0x20;
    if ((code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39)) {
      if (end === limit) continue;
      if (gap && end > start) {
        scratch[end++] = DASH;
        if (end === limit) continue;
      }
      gap = false;
      scratch[end++] = code;
    } else {
      gap = true;
    }
  }
  return end > start && scratch[end - 1] === DASH ? end - 1 : end;
}

export function shortHash(...parts: string[]): string {
  return sha256Hex(parts.join('\u0000')).slice(0, HASH_CHARS);
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
  // The hash of shortHash(directory, idpId), without its array, its join and its slice.
  const hex = sha256Hex(`${directory}\u0000${idpId}`);
  if (directory === directoryWritten || (directory.length <= MAX_HEAD && PRINTABLE_ASCII.test(directory))) {
    if (directory !== directoryWritten) {
      scratch.write(directory, 0, 'latin1');
      directoryWritten = directory;
    }
    let end = directory.length;
    const slugEnd = asciiSlugInto(readable, end + 1);
    if (slugEnd >= 0) {
      if (slugEnd > end + 1) {
        scratch[end] = DASH;
        end = Math.min(slugEnd, MAX_HEAD);
      }
      scratch[end] = DASH;
      for (let i = 0; i < HASH_CHARS; i++) scratch[end + 1 + i] = hex.charCodeAt(i);
      return scratch.toString('latin1', 0, end + 1 + HASH_CHARS);
    }
  }
  const middle = slugByExpressions(readable);
  return `${`${directory}${middle ? `-${middle}` : ''}`.slice(0, MAX_HEAD)}-${hex.slice(0, HASH_CHARS)}`;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Turns a glob with * and ? into an anchored, case-insensitive RegExp. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}
