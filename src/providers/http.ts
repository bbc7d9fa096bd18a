// One HTTP client for every IdP driver: URL policy (HTTPS unless loopback is allowed), an optional
// CA bundle, a per-request timeout, bounded concurrency, retries with exponential backoff that honour
// the IdP's own rate-limit signals, a count of calls, and mapping of HTTP failures to typed errors.
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch, type Dispatcher } from 'undici';
import { bulkhead, type BulkheadPolicy } from 'cockatiel';
import { StallError, TransientError, IdpSyncError } from '../errors.js';

export interface IdpHttpOptions {
  /** Name used in error messages, e.g. "Okta". */
  idpName: string;
  caBundle?: string;
  allowInsecureLoopback?: boolean;
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Attempts per request including the first. Default 6. */
  maxAttempts?: number;
  /** First backoff delay. Default 500 ms; doubles each attempt up to maxBackoffMs, with full jitter. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Reads the IdP's rate-limit headers. Returns how long to pause before the next request
   * (e.g. Okta: remaining budget is nearly gone → wait until X-Rate-Limit-Reset).
   */
  pauseFromHeaders?: (headers: Headers, now: number) => number | undefined;
  /** Extracts the IdP's own error text from an error body, for status and events. */
  errorText?: (body: unknown, status: number) => string | undefined;
  /**
   * Classifies a non-2xx response the default mapping would get wrong (e.g. Google's 403 quota).
   * `where` describes the request (origin and path, no query) for the error message.
   */
  classify?: (status: number, body: unknown, headers: Headers, where: string) => IdpSyncError | undefined;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface IdpResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Form or JSON body. Objects are sent as JSON. */
  body?: string | URLSearchParams | Record<string, unknown>;
  signal?: AbortSignal;
  /** Statuses to return instead of throwing (e.g. 404 when "gone" is a valid answer). */
  acceptStatuses?: number[];
}

export const realSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

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

export class IdpHttpClient {
  /** Number of HTTP requests sent (retries and token requests included). */
  calls = 0;
  readonly dispatcher: Dispatcher;
  private readonly limiter: BulkheadPolicy;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private pauseUntil = 0;

  constructor(private readonly options: IdpHttpOptions) {
    // Added to the system roots, not instead of them: a private CA for a proxy must not break public IdP hosts.
    this.dispatcher = new Agent({ connect: options.caBundle ? { ca: [...rootCertificates, options.caBundle] } : {} });
    this.limiter = bulkhead(options.concurrency ?? 4, Number.MAX_SAFE_INTEGER);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
  }

  /** A fetch bound to this client's dispatcher that counts calls; for openid-client's customFetch. */
  readonly fetch = async (input: string | URL, init?: any): Promise<Response> => {
    this.calls++;
    return (await undiciFetch(input as any, { ...init, dispatcher: this.dispatcher })) as unknown as Response;
  };

  async request<T = unknown>(url: string | URL, opts: RequestOptions = {}): Promise<IdpResponse<T>> {
    const maxAttempts = this.options.maxAttempts ?? 6;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.limiter.execute(() => this.once<T>(url, opts));
      } catch (err) {
        if (!(err instanceof TransientError) || attempt >= maxAttempts || opts.signal?.aborted) throw err;
        await this.sleep(this.backoff(attempt, err.retryAfterMs), opts.signal);
      }
    }
  }

  async getJson<T = unknown>(url: string | URL, opts: RequestOptions = {}): Promise<IdpResponse<T>> {
    return this.request<T>(url, { ...opts, method: 'GET' });
  }

  private backoff(attempt: number, retryAfterMs?: number): number {
    const base = this.options.baseBackoffMs ?? 500;
    const cap = this.options.maxBackoffMs ?? 60_000;
    const exp = Math.min(cap, base * 2 ** (attempt - 1));
    const jittered = exp / 2 + this.random() * (exp / 2);
    // The IdP's own signal is a floor; a little jitter keeps replicas from retrying in lock-step.
    return retryAfterMs !== undefined ? retryAfterMs + this.random() * base : jittered;
  }

  private async once<T>(url: string | URL, opts: RequestOptions): Promise<IdpResponse<T>> {
    const wait = this.pauseUntil - this.now();
    if (wait > 0) await this.sleep(wait, opts.signal);

    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    let body: string | undefined;
    if (opts.body instanceof URLSearchParams) {
      body = opts.body.toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    } else if (typeof opts.body === 'string') {
      body = opts.body;
    } else if (opts.body) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }

    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const where = describeUrl(url);
    let res: Response;
    let text: string;
    try {
      res = await this.fetch(url, { method: opts.method ?? 'GET', headers, body, signal });
      text = await res.text();
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      if (timeout.aborted) {
        throw new TransientError('Timeout', `${this.options.idpName}: ${where} timed out`, { cause: err });
      }
      throw new TransientError('NetworkError', `${this.options.idpName}: ${where} failed: ${networkMessage(err)}`, {
        cause: err,
      });
    }

    const pause = this.options.pauseFromHeaders?.(res.headers, this.now());
    if (pause && pause > 0) this.pauseUntil = Math.max(this.pauseUntil, this.now() + pause);

    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        if (res.ok) {
          throw new TransientError('MalformedResponse', `${this.options.idpName}: ${where} returned a body that is not JSON`);
        }
        parsed = text.slice(0, 300);
      }
    }
    if (res.ok || opts.acceptStatuses?.includes(res.status)) {
      return { status: res.status, headers: res.headers, body: parsed as T };
    }
    throw this.toError(res, parsed, where);
  }

  private toError(res: Response, body: unknown, where: string): IdpSyncError {
    const custom = this.options.classify?.(res.status, body, res.headers, where);
    if (custom) return custom;
    const idpText = this.options.errorText?.(body, res.status);
    const detail = `${this.options.idpName}: ${where} answered ${res.status}${idpText ? `: ${idpText}` : ''}`;
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), this.now());
    if (res.status === 429) return new TransientError('RateLimited', detail, { retryAfterMs });
    if (res.status === 401) return new StallError('InvalidCredentials', detail);
    if (res.status === 403) return new StallError('AccessDenied', detail);
    if (res.status === 408 || res.status >= 500) return new TransientError('IdpUnavailable', detail, { retryAfterMs });
    return new StallError('InvalidConfiguration', detail);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** Method-free, query-free description of a URL for messages (query strings may carry tokens). */
export function describeUrl(url: string | URL): string {
  const u = new URL(String(url));
  return `${u.origin}${u.pathname}`;
}

function networkMessage(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/** Parses an RFC 8288 Link header and returns the target of rel="next", if any. */
export function nextLink(linkHeader: string | null): string | undefined {
  if (!linkHeader) return undefined;
  for (const part of linkHeader.split(',')) {
    const match = /<([^>]+)>\s*;(.*)/.exec(part.trim());
    if (match && /\brel="?next"?/.test(match[2])) return match[1];
  }
  return undefined;
}
