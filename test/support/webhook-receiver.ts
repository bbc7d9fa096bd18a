// A loopback webhook receiver for tests: verifies each delivery's Standard Webhooks signature and
// keeps the CloudEvents that pass, counts the ones that do not, and can play a receiver that is down.
import { createServer, type IncomingHttpHeaders, type RequestListener } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isCloudEvent, type CloudEvent } from '../../src/notify/cloudevent.js';
import { verifySignature } from '../../src/notify/signing.js';

export interface ReceivedRequest {
  method: string;
  /** Path and query as requested. */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status answered. */
  status: number;
}

export interface WebhookReceiver {
  /** Base URL, e.g. http://127.0.0.1:41234 (any path is accepted). */
  readonly url: string;
  /** Verified CloudEvents, in arrival order (retries of one event appear once per successful answer). */
  readonly events: CloudEvent[];
  /** Requests refused for a missing or bad signature. */
  readonly rejected: number;
  /** Every request received, down or not. */
  readonly attempts: number;
  readonly requests: ReceivedRequest[];
  /** While set, every request is answered with this status (and headers) without looking at it. */
  setDown(status: number | false, headers?: Record<string, string>): void;
  /** Resolves once `predicate` holds (checked after every request and every few ms). */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(opts: {
  secret: string;
  /** Tolerance for webhook-timestamp; default 300 s. */
  toleranceSeconds?: number;
  /** Clock used to check webhook-timestamp; default the real one. */
  nowSeconds?: () => number;
  /** Serve HTTPS with this PEM key and certificate (for 127.0.0.1) instead of plain HTTP. */
  tls?: { key: string; cert: string };
}): Promise<WebhookReceiver> {
  const events: CloudEvent[] = [];
  const requests: ReceivedRequest[] = [];
  let rejected = 0;
  let down: { status: number; headers: Record<string, string> } | undefined;

  const listener: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const answer = (status: number, headers: Record<string, string> = {}) => {
        requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, status });
        res.writeHead(status, headers).end();
      };
      if (down) return answer(down.status, down.headers);
      const verified = verifySignature(opts.secret, req.headers as Record<string, string | undefined>, body, {
        nowSeconds: opts.nowSeconds?.(),
        toleranceSeconds: opts.toleranceSeconds,
      });
      if (!verified) {
        rejected++;
        return answer(401);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return answer(400);
      }
      if (req.method !== 'POST' || !isCloudEvent(parsed)) return answer(400);
      events.push(parsed);
      answer(204);
    });
  };
  const server = opts.tls ? createTlsServer(opts.tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    events,
    requests,
    get rejected() {
      return rejected;
    },
    get attempts() {
      return requests.length;
    },
    setDown(status, headers = {}) {
      down = status === false ? undefined : { status, headers };
    },
    async waitFor(predicate, timeoutMs = 1_500) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`webhook receiver: condition not met within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
