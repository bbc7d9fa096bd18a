// The parts every IdP emulator shares: a loopback HTTP server, a route table, a request log,
// and fault injection (429 bursts, 5xx, slow or truncated pages, failures on chosen paths).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cloneFixture, normaliseFixture, type DirectoryFixture } from './fixture.js';

export interface EmulatorRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  /** Raw body text. */
  body: string;
  /** Parsed form (application/x-www-form-urlencoded) body, if any. */
  form: URLSearchParams;
  /** Parsed JSON body, if any. */
  json: unknown;
  params: Record<string, string>;
}

export interface EmulatorResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export type Handler = (req: EmulatorRequest) => EmulatorResponse | Promise<EmulatorResponse>;

export interface Faults {
  /** The next N matching requests answer 429 (rate limited) in the IdP's own way. */
  rateLimitNext?: number;
  /**
   * A rate-limit episode: once `rateLimitAfter` matching requests (default 0) have been answered, every
   * matching request answers 429 for this many milliseconds, then the episode is over.
   */
  rateLimitForMs?: number;
  rateLimitAfter?: number;
  /** The next N matching requests answer 503. */
  serverErrorNext?: number;
  /** Every matching request answers with this status until cleared (a persistently failing endpoint). */
  failWith?: number;
  /** Delay every matching response by this many milliseconds. */
  delayMs?: number;
  /** Cut matching list responses short: the body is sent truncated (invalid JSON). */
  truncateBody?: boolean;
  /** Matching requests get no answer: the connection is reset (the socket destroyed) once the request is read. */
  resetConnection?: boolean;
  /** Matching successful answers carry a body that is not JSON (an HTML error page from a proxy in the way). */
  malformedBody?: boolean;
  /** Rate-limit answers carry no headers at all: no Retry-After and no reset time (a storm without reset headers). */
  rateLimitWithoutHeaders?: boolean;
  /** Rate-limit answers carry this Retry-After (seconds) besides the IdP's own headers. */
  rateLimitRetryAfterSeconds?: number;
  /**
   * After this many more matching requests every access token issued so far stops working, as when one
   * expires mid-sync (see expireTokens). An IdP with static API keys instead refuses the key once.
   */
  expireTokensAfter?: number;
  /** Only requests whose path matches are affected; default all API requests (not the token endpoint). */
  pathPattern?: RegExp;
}

export interface RateLimitAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

/** What a client needs to talk to an emulator: the DirectorySync provider block and the Secret's data. */
export interface EmulatorConnection {
  /** spec.provider.type */
  type: string;
  /** spec.provider.<type> (baseUrl etc. already pointing at the emulator). */
  settings: Record<string, unknown>;
  /** Secret data (string values) that the emulator accepts. */
  secret: Record<string, string>;
}

export abstract class EmulatorBase {
  directory: DirectoryFixture;
  faults: Faults = {};
  /** Requests answered with the IdP's rate-limit answer by fault injection (a 429, or Google's 403 quota error). */
  rateLimitAnswers = 0;
  /** Runs before each request is answered, and after: a test's chance to change the directory mid-read. */
  beforeRequest?: (req: EmulatorRequest) => void;
  afterRequest?: (req: EmulatorRequest) => void;
  /** Every request served: method and path (with query), in order. */
  readonly requests: { method: string; path: string; status: number }[] = [];
  private readonly routes: Route[] = [];
  /** Matching requests seen and when the current rate-limit episode ends (see Faults.rateLimitForMs). */
  private episode = { seen: 0, endsAt: undefined as number | undefined };
  private server?: Server;
  baseUrl = '';

  constructor(fixture: DirectoryFixture) {
    this.directory = cloneFixture(normaliseFixture(fixture));
  }

  /** The provider settings and Secret data that authenticate against this emulator (call after start()). */
  abstract connection(): EmulatorConnection;
  /** How this IdP answers when rate limiting (status, headers and error body). */
  protected abstract rateLimitAnswer(): RateLimitAnswer;
  /** How this IdP shapes an error body for a status. */
  protected abstract errorBody(status: number, message: string): unknown;
  /**
   * Makes every access token issued so far invalid, as after expiry, so the next API call answers 401 and
   * a new token must be fetched. Returns false for an IdP whose credential is a static API key.
   */
  expireTokens(): boolean {
    return false;
  }

  /** Paths that fault injection must leave alone (token endpoints) unless pathPattern says otherwise. */
  protected isAuthPath(path: string): boolean {
    return /token/.test(path);
  }

  protected route(method: string, path: string, handler: Handler): void {
    const keys: string[] = [];
    const source = path.replace(/:([A-Za-z]+)/g, (_m, key: string) => {
      keys.push(key);
      return '([^/]+)';
    });
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), keys, handler });
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      this.dispatch(req, res).catch((err) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: String(err) }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    const { port: bound } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${bound}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** Requests whose path starts with `prefix` (token requests excluded unless asked). */
  count(prefix = '/'): number {
    return this.requests.filter((r) => r.path.startsWith(prefix)).length;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.baseUrl || 'http://127.0.0.1');
    const contentType = String(req.headers['content-type'] ?? '');
    let json: unknown;
    if (contentType.includes('json') && body) {
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
    }
    const form = contentType.includes('x-www-form-urlencoded') ? new URLSearchParams(body) : new URLSearchParams();

    if (this.faultApplies(url.pathname) && this.faults.resetConnection) {
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, status: 0 });
      req.socket.destroy();
      return;
    }
    const request: EmulatorRequest = { method: req.method ?? 'GET', url, headers: req.headers, body, form, json, params: {} };
    this.beforeRequest?.(request);
    const answer = await this.answer(request).finally(() => this.afterRequest?.(request));
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, status: answer.status ?? 200 });
    if (this.faultApplies(url.pathname) && this.faults.delayMs) {
      await new Promise((r) => setTimeout(r, this.faults.delayMs));
    }
    res.statusCode = answer.status ?? 200;
    const headers = { 'content-type': 'application/json', ...answer.headers };
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (answer.body === undefined) return void res.end();
    let text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    if (this.faultApplies(url.pathname) && this.faults.truncateBody && res.statusCode === 200) {
      text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    }
    if (this.faultApplies(url.pathname) && this.faults.malformedBody && res.statusCode === 200) {
      res.setHeader('content-type', 'text/html');
      text = '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>';
    }
    res.end(text);
  }

  private inRateLimitEpisode(): boolean {
    const { rateLimitForMs, rateLimitAfter = 0 } = this.faults;
    if (!rateLimitForMs) return false;
    if (this.episode.endsAt === undefined) {
      if (this.episode.seen++ < rateLimitAfter) return false;
      this.episode.endsAt = Date.now() + rateLimitForMs;
    }
    if (Date.now() < this.episode.endsAt) return true;
    this.faults.rateLimitForMs = undefined;
    this.episode = { seen: 0, endsAt: undefined };
    return false;
  }

  private faultApplies(path: string): boolean {
    return this.faults.pathPattern ? this.faults.pathPattern.test(path) : !this.isAuthPath(path);
  }

  /** The IdP's rate-limit answer, with the headers fault injection asks for. */
  private injectedRateLimit(): RateLimitAnswer {
    this.rateLimitAnswers++;
    const answer = this.rateLimitAnswer();
    if (this.faults.rateLimitWithoutHeaders) return { ...answer, headers: {} };
    if (this.faults.rateLimitRetryAfterSeconds !== undefined) return { ...answer, headers: { ...answer.headers, 'retry-after': String(this.faults.rateLimitRetryAfterSeconds) } };
    return answer;
  }

  /** Counts down Faults.expireTokensAfter; true when this request is one a static API key is refused on. */
  private tokenExpiresNow(): boolean {
    if (this.faults.expireTokensAfter === undefined) return false;
    if (this.faults.expireTokensAfter-- > 0) return false;
    this.faults.expireTokensAfter = undefined;
    return !this.expireTokens();
  }

  private async answer(req: EmulatorRequest): Promise<EmulatorResponse> {
    if (this.faultApplies(req.url.pathname)) {
      if (this.tokenExpiresNow()) return { status: 401, body: this.errorBody(401, 'The API key was refused (injected)') };
      if (this.inRateLimitEpisode()) return this.injectedRateLimit();
      if (this.faults.rateLimitNext && this.faults.rateLimitNext > 0) {
        this.faults.rateLimitNext--;
        return this.injectedRateLimit();
      }
      if (this.faults.serverErrorNext && this.faults.serverErrorNext > 0) {
        this.faults.serverErrorNext--;
        return { status: 503, body: this.errorBody(503, 'Service unavailable (injected)') };
      }
      if (this.faults.failWith) {
        return { status: this.faults.failWith, body: this.errorBody(this.faults.failWith, 'Injected failure') };
      }
    }
    for (const route of this.routes) {
      if (route.method !== req.method) continue;
      const match = route.pattern.exec(req.url.pathname);
      if (!match) continue;
      route.keys.forEach((key, i) => (req.params[key] = decodeURIComponent(match[i + 1])));
      return route.handler(req);
    }
    return { status: 404, body: this.errorBody(404, `No route for ${req.method} ${req.url.pathname}`) };
  }
}

/** Slices `items` for offset paging; returns the page and whether more remain. */
export function pageOf<T>(items: T[], offset: number, limit: number): { page: T[]; more: boolean } {
  const page = items.slice(offset, offset + limit);
  return { page, more: offset + limit < items.length };
}

/** Reads a positive integer query parameter, clamped to [1, max]. */
export function limitParam(url: URL, name: string, fallback: number, max: number): number {
  const raw = Number(url.searchParams.get(name) ?? fallback);
  if (!Number.isFinite(raw) || raw < 1) return fallback;
  return Math.min(Math.floor(raw), max);
}
