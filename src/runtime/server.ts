// The operator's own HTTP endpoints: /healthz (the process answers), /readyz (named readiness
// checks, apiserver-style output) and /metrics (Prometheus).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { type Logger, logger as rootLogger } from './logger.js';
import { registry as defaultRegistry } from './metrics.js';

/** A readiness check: true (or resolving true) when ready; throwing counts as not ready. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

export interface HealthServerOptions {
  /** Bind address (default 0.0.0.0). */
  host?: string;
  /** Port; 0 picks a free one (default 8080). */
  port?: number;
  /** Registry served at /metrics (default: the operator's). */
  registry?: Registry;
  /** Initial readiness checks by name. */
  readiness?: Record<string, ReadinessCheck>;
  /** A check that has not answered after this long fails (default 5 s). */
  checkTimeoutMs?: number;
  logger?: Logger;
}

/** Serves /healthz, /readyz and /metrics. */
export class HealthServer {
  private readonly server: http.Server;
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly registry: Registry;
  private readonly log: Logger;

  constructor(private readonly options: HealthServerOptions = {}) {
    this.registry = options.registry ?? defaultRegistry;
    this.log = (options.logger ?? rootLogger).child({ component: 'http' });
    for (const [name, check] of Object.entries(options.readiness ?? {})) this.checks.set(name, check);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.log.error('request failed', { path: req.url, err });
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
  }

  /** Adds or replaces a readiness check. */
  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** Starts listening; resolves to the bound port. */
  async listen(): Promise<number> {
    const { host = '0.0.0.0', port = 8080 } = this.options;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const bound = (this.server.address() as AddressInfo).port;
    this.log.info('serving health and metrics', { host, port: bound });
    return bound;
  }

  /** Stops listening and closes open connections. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Runs every readiness check; returns the names of the failing ones and apiserver-style report lines. */
  async runChecks(): Promise<{ failing: string[]; lines: string[] }> {
    const timeoutMs = this.options.checkTimeoutMs ?? 5_000;
    const results = await Promise.all(
      [...this.checks].map(async ([name, check]) => ({ name, ok: await runCheck(check, timeoutMs) })),
    );
    return {
      failing: results.filter((r) => !r.ok).map((r) => r.name),
      lines: results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed`)),
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (path) {
      case '/healthz':
      case '/livez':
        text(res, 200, 'ok\n');
        return;
      case '/readyz': {
        const { failing, lines } = await this.runChecks();
        const verdict = failing.length === 0 ? 'readyz check passed' : `readyz check failed: ${failing.join(', ')}`;
        text(res, failing.length === 0 ? 200 : 503, [...lines, verdict, ''].join('\n'));
        return;
      }
      case '/metrics': {
        const body = await this.registry.metrics();
        res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
        return;
      }
      default:
        text(res, 404, 'not found\n');
    }
  }
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return (await Promise.race([Promise.resolve().then(check), timeout])) === true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
}
