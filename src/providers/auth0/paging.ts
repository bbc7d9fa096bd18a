// The three ways idpsync pages through Auth0 lists, none of which may stop short of the end.
//
// Offset paging (page/per_page) answers only the first 1000 rows of any query: asking for a page
// past them is refused with a 400. So:
//   - role members and organizations (and their members) are read with checkpoint paging
//     (from/take, each page naming the `next` one), which has no such cap;
//   - users have no checkpoint paging, so the list is read in windows of at most 1000 rows sorted
//     by created_at, each window starting at the creation time of the last user the one before
//     ended with (see readUsers);
//   - roles have offset paging only: a tenant with more than 1000 roles is refused plainly rather
//     than read in part.
// Within an offset-paged query, a user created or deleted between two pages shifts later rows;
// every page reports the query's total, so a pass in which it moves is thrown away and read again.
import { StallError, TransientError } from '../../errors.js';
import { ListChanged, rereadWhileChanging } from '../offset-paging.js';
import type { Auth0User, CheckpointPage, TotalsPage } from './model.js';

/** Offset paging stops here in every Auth0 list. */
export const OFFSET_CAP = 1000;

/** One page of an offset-paged query, 0-based. */
export type TotalsPageFetcher = (page: number) => Promise<TotalsPage>;

export interface TotalsListOptions<T> {
  perPage: number;
  parse: (item: unknown) => T;
  id: (item: T) => string;
  /** For messages, e.g. "GET /api/v2/roles". */
  what: string;
}

/** Every row of an offset-paged list that Auth0 can page through whole (at most OFFSET_CAP rows). */
export function readTotalsList<T>(fetchPage: TotalsPageFetcher, options: TotalsListOptions<T>): Promise<T[]> {
  return rereadWhileChanging(async () => {
    const window = await readWindow(fetchPage, options);
    if (window.items.length < window.total) {
      throw new StallError(
        'InvalidConfiguration',
        `Auth0: ${options.what} has ${window.total} rows, and Auth0 pages through only the first ${window.items.length} of this list; idpsync will not sync a part of it`,
      );
    }
    return window.items;
  }, { what: options.what, idpName: 'Auth0' });
}

/** The rows of one query up to OFFSET_CAP, and the query's total as Auth0 reported it. */
async function readWindow<T>(fetchPage: TotalsPageFetcher, { perPage, parse, id }: TotalsListOptions<T>): Promise<{ items: T[]; total: number }> {
  const items: T[] = [];
  const seen = new Set<string>();
  let total: number | undefined;
  for (let page = 0; ; page++) {
    const answer = await fetchPage(page);
    total ??= answer.total;
    if (answer.total !== total) throw new ListChanged(`total went from ${total} to ${answer.total}`);
    for (const item of answer.items.map(parse)) {
      const key = id(item);
      if (seen.has(key)) throw new ListChanged(`${key} came back twice`);
      seen.add(key);
      items.push(item);
    }
    const reachable = Math.min(total, OFFSET_CAP - (OFFSET_CAP % perPage));
    if (items.length >= reachable) break;
    if (answer.items.length < perPage) throw new ListChanged(`the total said ${total} rows but page ${page} ended the list at ${items.length}`);
  }
  return { items, total };
}

/** One page of a checkpoint-paged list; `from` is undefined for the first page. */
export type CheckpointPageFetcher = (from: string | undefined) => Promise<CheckpointPage>;

/** Every row of a checkpoint-paged list: pages are followed until one comes without `next`. */
export async function readCheckpointList<T>(fetchPage: CheckpointPageFetcher, { parse, id, what }: Omit<TotalsListOptions<T>, 'perPage'>): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  const checkpoints = new Set<string>();
  let from: string | undefined;
  for (;;) {
    const page = await fetchPage(from);
    for (const item of page.items.map(parse)) {
      const key = id(item);
      // A checkpoint does not move when rows come or go, so a repeat is the server's fault, not a race.
      if (seen.has(key)) throw new TransientError('MalformedResponse', `Auth0: ${what} returned ${key} twice`);
      seen.add(key);
      items.push(item);
    }
    if (!page.next) return items;
    if (checkpoints.has(page.next)) throw new TransientError('MalformedResponse', `Auth0: ${what} pointed back to a page it had already returned`);
    checkpoints.add(page.next);
    from = page.next;
  }
}

/** One page of users created at or after `since` (every user when undefined), sorted by created_at. */
export type UsersPageFetcher = (page: number, since: string | undefined) => Promise<TotalsPage>;

/**
 * Every user, in windows of at most OFFSET_CAP rows. Users are read sorted by created_at; a window
 * that does not reach the end of its query is cut at the last row read, and the next window asks for
 * users created at or after that moment. The users of that last moment come back in the next window
 * and are counted once. A moment shared by more than a window's worth of users cannot be passed, and
 * fails the read instead of skipping them.
 */
export function readUsers(fetchPage: UsersPageFetcher, options: Omit<TotalsListOptions<Auth0User>, 'id'>): Promise<Auth0User[]> {
  return rereadWhileChanging(async () => {
    const users = new Map<string, Auth0User>();
    let since: string | undefined;
    for (;;) {
      const window = await readWindow((page) => fetchPage(page, since), { ...options, id: (u) => u.userId });
      for (const user of window.items) users.set(user.userId, user);
      if (window.items.length >= window.total) return [...users.values()];
      const last = window.items[window.items.length - 1].createdAt;
      if (since !== undefined && Date.parse(last) <= Date.parse(since)) {
        throw new TransientError(
          'IdpUnavailable',
          `Auth0: more than ${window.items.length} users were created at ${last}, more than one query can page through; the list of users cannot be read whole`,
        );
      }
      since = last;
    }
  }, { what: options.what, idpName: 'Auth0' });
}
