// One HTTP client for every IdP driver: URL policy (HTTPS unless loopback is allowed), an optional
// CA bundle, the cluster's egress proxy, a per-request timeout, bounded concurrency, retries with
// exponential backoff, one rate-limit pause shared by all requests to the IdP that honours its own
// signals, a count of calls, and mapping of HTTP failures to typed errors.
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, fetch as undiciFetch, type Dispatcher } from 'undici';
import { bulkhead, type BulkheadPolicy } from 'cockatiel';
import { StallError, TransientError, IdpSyncError } from '../errors.js';
import { describeUrl, parseRetryAfter } from '../util/http.js';
import { RateLimitRecord } from './rate-limits.js';

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
  /** Where the rate-limit gate records what the IdP answered (createDriver hands one to each driver). */
  rateLimits?: RateLimitRecord;
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


/** What a request was admitted with: the gate's closure count then, and whether it goes first after a reopening. */
interface Admission {
  closures: number;
  trial: boolean;
}

/**
 * One rate-limit pause for every request to an IdP. A rate-limit answer closes the gate for the
 * IdP's Retry-After, or for an exponential backoff when it gives none (Google, JumpCloud): every
 * request waits, instead of each backing off alone while the others keep hitting the limit. When the
 * gate reopens after a rate-limit answer, one request goes first; the rest follow once it has an answer.
 * Answers to requests sent before the gate closed do not close it again.
 */
export class RateLimitGate {
  /** Times the gate has closed on a rate-limit answer. */
  private closures = 0;
  /** Closures in a row without a successful request between them: the backoff exponent. */
  private strikes = 0;
  private reopening?: { at: number; done: Promise<void> };
  private trialNeeded = false;
  private trialDone?: Promise<void>;
  private endTrial?: () => void;

  constructor(
    private readonly now: () => number,
    private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
    private readonly random: () => number,
    private readonly baseBackoffMs: number,
    private readonly maxBackoffMs: number,
    readonly record: RateLimitRecord = new RateLimitRecord(),
  ) {}

  /** Waits until a request may be sent. */
  async admit(signal?: AbortSignal): Promise<Admission> {
    let waitedFor = 0;
    for (;;) {
      const reopening = this.reopening;
      // Waiting once per closing is enough (and keeps injected sleeps that do not wait from spinning).
      if (reopening && reopening.at > waitedFor && reopening.at > this.now()) {
        await abortable(reopening.done, signal);
        waitedFor = reopening.at;
        continue;
      }
      if (this.trialDone) {
        await abortable(this.trialDone, signal);
        continue;
      }
      if (this.trialNeeded) {
        this.trialNeeded = false;
        this.trialDone = new Promise((resolve) => (this.endTrial = resolve));
        return { closures: this.closures, trial: true };
      }
      return { closures: this.closures, trial: false };
    }
  }

  /**
   * Waits out a pause but never goes first after one nor waits for the request that does: for token
   * requests, which that first request may itself be waiting on.
   */
  async admitBeside(signal?: AbortSignal): Promise<Admission> {
    const reopening = this.reopening;
    if (reopening && reopening.at > this.now()) await abortable(reopening.done, signal);
    return { closures: this.closures, trial: false };
  }

  /** The request got an answer that was not a rate-limit answer (success or another error). */
  answered(admission: Admission, succeeded: boolean): void {
    if (succeeded) {
      this.strikes = 0;
      this.record.succeeded();
    }
    if (admission.trial) this.finishTrial();
  }

  /** The request was rate limited: close the gate, unless it has closed since the request was sent. */
  rateLimited(admission: Admission, retryAfterMs?: number): void {
    this.record.limited(this.now());
    if (admission.closures === this.closures) {
      this.closures++;
      this.strikes++;
      const exp = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** (this.strikes - 1));
      // The IdP's own signal is a floor; a little jitter keeps replicas from retrying in lock-step.
      const pause = retryAfterMs !== undefined ? retryAfterMs + this.random() * this.baseBackoffMs : exp / 2 + (this.random() * exp) / 2;
      this.close(pause);
      this.trialNeeded = true;
    }
    if (admission.trial) this.finishTrial();
  }

  /** The IdP's headers say its budget is nearly spent: pause everyone without counting a strike. */
  pauseFor(ms: number): void {
    this.close(ms);
  }

  /** One timer per closing, started at once and shared by every request that waits. */
  private close(pauseMs: number): void {
    const at = this.now() + pauseMs;
    if (this.reopening && this.reopening.at >= at) return;
    this.reopening = { at, done: this.sleep(pauseMs) };
  }

  private finishTrial(): void {
    const end = this.endTrial;
    this.trialDone = undefined;
    this.endTrial = undefined;
    end?.();
  }
}

function abortable(promise: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      reject,
    );
  });
}

export class IdpHttpClient {
  /** Number of HTTP requests sent (retries and token requests included). */
  calls = 0;
  readonly dispatcher: Dispatcher;
  private readonly limiter: BulkheadPolicy;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  /** Shared by every request of this client, i.e. of one driver and so one IdP tenant. */
  readonly gate: RateLimitGate;

  constructor(private readonly options: IdpHttpOptions) {
    this.dispatcher = egressDispatcher(options.caBundle);
    this.limiter = bulkhead(options.concurrency ?? 4, Number.MAX_SAFE_INTEGER);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
    this.gate = new RateLimitGate(this.now, this.sleep, this.random, options.baseBackoffMs ?? 500, options.maxBackoffMs ?? 60_000, options.rateLimits);
  }

  /**
   * A fetch bound to this client's dispatcher, for openid-client's customFetch (token requests). It counts
   * calls and waits at the same rate-limit gate as API requests: a token endpoint usually shares the
   * tenant's budget, so a token request must not go out while every other request is pausing.
   */
  readonly fetch = async (input: string | URL, init?: any): Promise<Response> => {
    const admission = await this.gate.admitBeside(init?.signal ?? undefined);
    this.calls++;
    let response: Response;
    try {
      response = (await undiciFetch(input as any, { ...init, dispatcher: this.dispatcher })) as unknown as Response;
    } catch (err) {
      this.gate.answered(admission, false);
      throw err;
    }
    if (response.status === 429) {
      // The driver's own reading of a rate-limit answer (e.g. Auth0's X-RateLimit-Reset), as for API requests.
      const err = this.toError(response, undefined, describeUrl(input));
      this.gate.rateLimited(admission, err instanceof TransientError ? err.retryAfterMs : undefined);
    } else this.gate.answered(admission, response.ok);
    return response;
  };

  async request<T = unknown>(url: string | URL, opts: RequestOptions = {}): Promise<IdpResponse<T>> {
    const maxAttempts = this.options.maxAttempts ?? 6;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.limiter.execute(() => this.admitted<T>(url, opts));
      } catch (err) {
        if (!(err instanceof TransientError) || attempt >= maxAttempts || opts.signal?.aborted) throw err;
        // A rate-limited request waits at the gate with every other request; other failures back off alone.
        if (err.reason !== 'RateLimited') await this.sleep(this.backoff(attempt, err.retryAfterMs), opts.signal);
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

  /** One attempt, sent when the rate-limit gate lets it through, and its answer reported back to the gate. */
  private async admitted<T>(url: string | URL, opts: RequestOptions): Promise<IdpResponse<T>> {
    const admission = await this.gate.admit(opts.signal);
    try {
      const res = await this.once<T>(url, opts);
      this.gate.answered(admission, true);
      return res;
    } catch (err) {
      if (err instanceof TransientError && err.reason === 'RateLimited') this.gate.rateLimited(admission, err.retryAfterMs);
      else this.gate.answered(admission, false);
      throw err;
    }
  }

  private async once<T>(url: string | URL, opts: RequestOptions): Promise<IdpResponse<T>> {
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
      if (isUnsendableHeader(err)) {
        // Sending it again cannot help. The HTTP client's text quotes the value, so it stays in the cause
        // only, where the caller can find which Secret key it came from (credential-errors.ts).
        throw new StallError('InvalidConfiguration', `${this.options.idpName}: a request to ${where} cannot be sent: one of its header values contains a line break or another character an HTTP header cannot carry`, { cause: err });
      }
      throw new TransientError('NetworkError', `${this.options.idpName}: ${where} failed: ${networkMessage(err)}`, {
        cause: err,
      });
    }

    const pause = this.options.pauseFromHeaders?.(res.headers, this.now());
    if (pause && pause > 0) this.gate.pauseFor(pause);

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

/**
 * Connections out of the cluster the way its other workloads make them: through HTTPS_PROXY / HTTP_PROXY
 * unless NO_PROXY names the host (undici's EnvHttpProxyAgent reads the same variables as curl), or
 * directly when no proxy is set. A CA bundle is added to the system roots, not put in their place: a
 * private CA for a proxy must not break public IdP hosts.
 */
export function egressDispatcher(caBundle?: string, env: NodeJS.ProcessEnv = process.env): Dispatcher {
  const tls = caBundle ? { ca: [...rootCertificates, caBundle] } : {};
  const proxied = Boolean(env.https_proxy || env.HTTPS_PROXY || env.http_proxy || env.HTTP_PROXY);
  if (!proxied) return new Agent({ connect: tls });
  // requestTls is the TLS to the IdP inside the proxy's tunnel, proxyTls the TLS to an https:// proxy.
  const options = {
    connect: tls,
    requestTls: tls,
    proxyTls: tls,
    httpProxy: env.http_proxy || env.HTTP_PROXY,
    httpsProxy: env.https_proxy || env.HTTPS_PROXY,
    noProxy: withLoopback(env.no_proxy ?? env.NO_PROXY),
  };
  return new EnvHttpProxyAgent(options as EnvHttpProxyAgent.Options);
}

/** Loopback never goes through a proxy: the proxy could not reach this pod's loopback anyway. */
function withLoopback(noProxy: string | undefined): string {
  return [noProxy, 'localhost', '127.0.0.1', '::1'].filter(Boolean).join(',');
}

/** Method-free, query-free description of a URL for messages (query strings may carry tokens). */
/**
 * Reads a whole directory through `http`, counting its calls. On the first failure the requests still
 * queued are stopped: the snapshot is lost anyway, and a partial one is never returned.
 */
export async function readWhole<T extends object>(http: { readonly calls: number }, outer: AbortSignal | undefined, read: (signal: AbortSignal) => Promise<T>): Promise<T & { apiCalls: number }> {
  const callsBefore = http.calls;
  const abort = new AbortController();
  const signal = outer ? AbortSignal.any([outer, abort.signal]) : abort.signal;
  try {
    const result = await read(signal);
    return { ...result, apiCalls: http.calls - callsBefore };
  } catch (err) {
    abort.abort(err);
    throw err;
  }
}

/**
 * undici refuses a header value with a line break (or a NUL) before it connects, with a TypeError of its
 * own; every failure to reach the IdP is instead its TypeError "fetch failed" with the socket error as cause.
 */
function isUnsendableHeader(err: unknown): boolean {
  return err instanceof TypeError && err.message !== 'fetch failed' && /invalid header (value|name)/i.test(err.message);
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
