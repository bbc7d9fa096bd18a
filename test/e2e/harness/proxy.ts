// A loopback TLS proxy in front of the apiserver that records every request on the wire, so a
// test can count what a client really sent (not what it believes it sent), and can close that
// client's open watches the way the apiserver does when a watch times out.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query, e.g. /apis/idpsync.io/v1alpha1/namespaces/a/users/x */
  path: string;
  query: URLSearchParams;
  watch: boolean;
  /** Filled in when the apiserver answers. */
  status?: number;
  at: Date;
}

export interface InjectedAnswer {
  status: number;
  headers?: Record<string, string>;
  /** A metav1.Status, as the apiserver sends with an error. */
  body: unknown;
}

export const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface ProxyOptions {
  /** https://host:port of the apiserver. */
  upstream: string;
  /** PEM the apiserver's certificate verifies against. */
  upstreamCa: string;
  /** PEM certificate and key the proxy serves on 127.0.0.1. */
  cert: string;
  key: string;
}

interface Exchange {
  response: ServerResponse;
  upstream: ReturnType<typeof request>;
  upstreamResponse?: IncomingMessage;
  /** Set when the proxy itself ends the exchange, so the upstream abort is not an error. */
  closing: boolean;
}

// Connection-level headers are not forwarded (RFC 9110 section 7.6.1).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
}

function isWatch(url: URL): boolean {
  const watch = url.searchParams.get('watch');
  return watch === 'true' || watch === '1' || url.pathname.includes('/watch/');
}

export class CountingProxy {
  /** Every request so far, oldest first. */
  readonly requests: RecordedRequest[] = [];
  /**
   * Called when the apiserver's answer arrives, before the client gets it: a test can stop the client
   * here (SIGKILL) so that a write has landed but its writer never learns it did.
   */
  beforeResponse?: (request: RecordedRequest) => void;
  /**
   * Called before a request is forwarded: a returned answer is sent instead of the apiserver's, as an
   * apiserver in trouble would answer (429 from API Priority and Fairness, 409, 410 Gone on a watch).
   */
  answerInstead?: (request: RecordedRequest) => InjectedAnswer | undefined;
  private readonly watches = new Set<Exchange>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly agent: Agent,
    readonly url: string,
  ) {}

  static async start(opts: ProxyOptions): Promise<CountingProxy> {
    const agent = new Agent({ ca: opts.upstreamCa, keepAlive: true });
    const server = createServer({ cert: opts.cert, key: opts.key });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new CountingProxy(server, agent, `https://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('secureConnection', (socket: Socket) => {
      proxy.sockets.add(socket);
      socket.on('close', () => proxy.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => proxy.forward(opts.upstream, req, res));
    return proxy;
  }

  /** Requests with a write method (POST, PUT, PATCH, DELETE), optionally only those whose path matches. */
  writes(pathPattern?: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => WRITE_METHODS.has(r.method) && (!pathPattern || pathPattern.test(r.path)));
  }

  /** Forgets the requests recorded so far (open watches stay open). */
  reset(): void {
    this.requests.length = 0;
  }

  /** Watches currently streaming through the proxy. */
  get openWatches(): number {
    return this.watches.size;
  }

  /**
   * Ends every open watch. By default the stream ends cleanly, as when the apiserver closes a
   * watch at its timeout; `abrupt` resets the connection instead. Returns how many were closed.
   */
  killWatches(opts: { abrupt?: boolean } = {}): number {
    const closed = this.watches.size;
    for (const watch of this.watches) {
      watch.closing = true;
      watch.upstreamResponse?.unpipe(watch.response);
      if (opts.abrupt) watch.response.socket?.destroy();
      else watch.response.end();
      watch.upstream.destroy();
    }
    this.watches.clear();
    return closed;
  }

  async close(): Promise<void> {
    this.killWatches({ abrupt: true });
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  private forward(upstreamBase: string, req: IncomingMessage, res: ServerResponse): void {
    const target = new URL(req.url ?? '/', upstreamBase);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: target.pathname,
      query: target.searchParams,
      watch: isWatch(target),
      at: new Date(),
    };
    this.requests.push(record);
    const injected = this.answerInstead?.(record);
    if (injected) {
      record.status = injected.status;
      req.resume();
      res.writeHead(injected.status, { 'content-type': 'application/json', ...injected.headers });
      res.end(JSON.stringify(injected.body));
      return;
    }

    const headers = forwardable(req.headers);
    headers.host = target.host;
    const upstream = request(target, { method: record.method, headers, agent: this.agent });
    const exchange: Exchange = { response: res, upstream, closing: false };
    upstream.on('response', (upstreamRes) => {
      exchange.upstreamResponse = upstreamRes;
      record.status = upstreamRes.statusCode;
      this.beforeResponse?.(record);
      res.writeHead(upstreamRes.statusCode ?? 502, forwardable(upstreamRes.headers));
      res.flushHeaders();
      upstreamRes.pipe(res);
      upstreamRes.on('error', () => {
        if (!exchange.closing) res.destroy();
      });
    });
    upstream.on('error', (err) => {
      if (exchange.closing) return;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`idpsync test proxy: upstream error: ${err.message}`);
      } else {
        res.destroy();
      }
    });
    if (record.watch) {
      this.watches.add(exchange);
      res.on('close', () => this.watches.delete(exchange));
    }
    res.on('close', () => {
      if (!exchange.upstreamResponse?.complete) {
        exchange.closing = true;
        upstream.destroy();
      }
    });
    req.pipe(upstream);
  }
}
