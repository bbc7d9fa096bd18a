// limit+skip paging that notices when the list moves under it.
//
// Offset paging over a list that changes between two requests skips or repeats rows: delete a row
// before the current offset and the next page starts one row late. JumpCloud asks clients to sort
// by _id and Keycloak orders by username or name, which keeps new rows in place, but deletions and
// totals still move. So each page after the first is requested one row early: its first row must be
// the last row already read. If it is not, or the total changes, or a row repeats, the pass is thrown
// away and the list read again.
import { TransientError } from '../errors.js';

export interface Page<T> {
  items: T[];
  /** The list's size as the server reported it with this page (v1 lists only). */
  totalCount?: number;
}

export type PageFetcher<T> = (skip: number, limit: number) => Promise<Page<T>>;

export interface ListOptions<T> {
  /** Rows per request, at least 2 (one row of each page after the first repeats the last one read). */
  limit: number;
  id: (item: T) => string;
  /** For messages, e.g. "GET /api/systemusers". */
  what: string;
  /** For messages, e.g. "JumpCloud". */
  idpName?: string;
  /** Whole passes over the list before giving up. Default 3. */
  maxPasses?: number;
}

/** The list moved between two pages; the pass that saw it is worthless. */
export class ListChanged extends Error {}

export async function listAll<T>(fetchPage: PageFetcher<T>, options: ListOptions<T>): Promise<T[]> {
  if (options.limit < 2) throw new RangeError('listAll needs a page limit of at least 2');
  return rereadWhileChanging(() => readOnce(fetchPage, options), options);
}

/**
 * Runs one whole pass over a list again while it reports ListChanged, up to maxPasses (default 3),
 * then fails with a transient error: the next sync tries again, and no partial list is ever used.
 */
export async function rereadWhileChanging<T>(readPass: () => Promise<T>, options: { what: string; idpName?: string; maxPasses?: number }): Promise<T> {
  const maxPasses = options.maxPasses ?? 3;
  for (let pass = 1; ; pass++) {
    try {
      return await readPass();
    } catch (err) {
      if (!(err instanceof ListChanged)) throw err;
      if (pass >= maxPasses) {
        throw new TransientError(
          'IdpUnavailable',
          `${options.idpName ?? 'IdP'}: the list from ${options.what} changed while it was being read, ${maxPasses} times in a row (last: ${err.message}); the sync will be retried`,
        );
      }
    }
  }
}

async function readOnce<T>(fetchPage: PageFetcher<T>, { limit, id }: ListOptions<T>): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let total: number | undefined;
  let skip = 0;
  for (;;) {
    const page = await fetchPage(skip, limit);
    let fresh = page.items;
    if (items.length > 0) {
      const expected = id(items[items.length - 1]);
      if (fresh.length === 0 || id(fresh[0]) !== expected) {
        throw new ListChanged(`row ${skip} was no longer ${expected}: rows before it were added or removed`);
      }
      fresh = fresh.slice(1);
    }
    if (page.totalCount !== undefined) {
      if (total === undefined) total = page.totalCount;
      else if (page.totalCount !== total) throw new ListChanged(`totalCount went from ${total} to ${page.totalCount}`);
    }
    for (const item of fresh) {
      const key = id(item);
      if (seen.has(key)) throw new ListChanged(`${key} came back twice`);
      seen.add(key);
      items.push(item);
    }
    if (page.items.length < limit || (total !== undefined && items.length >= total)) break;
    skip = items.length - 1;
  }
  if (total !== undefined && items.length !== total) {
    throw new ListChanged(`totalCount said ${total} but ${items.length} rows were read`);
  }
  return items;
}
