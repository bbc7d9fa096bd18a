// Object names for Users and Groups: readable (they start with the directory and the person's or group's
// name), unique per directory (a hash of the directory name and the IdP id), and stable: once an object
// exists, decide() reuses its name, so a rename in the IdP never changes it.
import { createHash } from 'node:crypto';

const MAX_NAME = 253;
const MAX_SLUG = 40;

export function slug(text: string): string {
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

export function shortHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 8);
}

/** A label-safe hash of an IdP id (ids may be longer than 63 characters or contain any character). */
export function idHash(idpId: string): string {
  return createHash('sha256').update(idpId).digest('hex').slice(0, 40);
}

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
