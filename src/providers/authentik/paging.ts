// page/page_size paging that notices when the list moves under it.
//
// authentik numbers pages, so a row added or removed before the current page shifts every later
// row by one: the read skips or repeats a row without any error. What does show is the list's
// count and number of pages, which every page reports. So a pass in which they change, a row comes
// back twice, or the rows read do not add up to the count, is thrown away and the list read again.
import { TransientError } from '../../errors.js';
import { ListChanged, rereadWhileChanging } from '../offset-paging.js';
import type { AuthentikPage } from './model.js';

/** One page, 1-based; undefined when authentik says the page no longer exists (the list shrank). */
export type NumberedPageFetcher = (page: number) => Promise<AuthentikPage | undefined>;

export interface NumberedListOptions<T> {
  parse: (item: unknown) => T;
  id: (item: T) => string;
  /** For messages, e.g. "GET /api/v3/core/users/". */
  what: string;
  /** Whole passes over the list before giving up. Default 3. */
  maxPasses?: number;
}

export async function readAllPages<T>(fetchPage: NumberedPageFetcher, options: NumberedListOptions<T>): Promise<T[]> {
  return rereadWhileChanging(() => readOnce(fetchPage, options), { ...options, idpName: 'authentik' });
}

async function readOnce<T>(fetchPage: NumberedPageFetcher, { parse, id, what }: NumberedListOptions<T>): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let first: AuthentikPage | undefined;
  for (let number = 1; ; ) {
    const page = await fetchPage(number);
    if (!page) throw new ListChanged(`page ${number} no longer exists`);
    first ??= page;
    if (page.count !== first.count) throw new ListChanged(`count went from ${first.count} to ${page.count}`);
    if (page.totalPages !== first.totalPages) throw new ListChanged(`total_pages went from ${first.totalPages} to ${page.totalPages}`);
    for (const item of page.results.map(parse)) {
      const key = id(item);
      if (seen.has(key)) throw new ListChanged(`${key} came back twice`);
      seen.add(key);
      items.push(item);
    }
    if (page.next === 0) break;
    if (page.next <= number || page.next > first.totalPages) {
      throw new TransientError('MalformedResponse', `authentik: ${what} page ${number} said the next page is ${page.next}`);
    }
    number = page.next;
  }
  if (items.length !== first.count) throw new ListChanged(`count said ${first.count} but ${items.length} rows were read`);
  return items;
}
