// One delivery attempt: POST a signed CloudEvent and classify the answer. No retries here.
import { request, type Dispatcher } from 'undici';
import { parseRetryAfter } from '../util/http.js';
import { signatureHeaders } from './signing.js';
import { IDPSYNC_VERSION } from '../version.js';

export const USER_AGENT = `idpsync/${IDPSYNC_VERSION}`;
export const CLOUDEVENTS_JSON = 'application/cloudevents+json';

export type AttemptResult =
  | { ok: true }
  | {
      ok: false;
      /** For status and logs: names the URL by origin and path only. */
      error: string;
      retryAfterMs?: number;
      /** Set when `signal` (not the timeout) ended the attempt. */
      aborted?: boolean;
    };

export interface Attempt {
  dispatcher: Dispatcher;
  url: URL;
  /** origin + path of `url`, the only form of it that appears in messages. */
  where: string;
  secret: string;
  id: string;
  body: string;
  now: number;
  timeoutMs: number;
  signal: AbortSignal;
}

export async function postEvent(a: Attempt): Promise<AttemptResult> {
  const timeout = AbortSignal.timeout(a.timeoutMs);
  try {
    const res = await request(a.url, {
      dispatcher: a.dispatcher,
      method: 'POST',
      headers: {
        'content-type': CLOUDEVENTS_JSON,
        'user-agent': USER_AGENT,
        // Signed per attempt, so a retry hours later is still inside the receiver's tolerance window.
        ...signatureHeaders(a.secret, a.id, Math.floor(a.now / 1000), a.body),
      },
      body: a.body,
      signal: AbortSignal.any([a.signal, timeout]),
    });
    await res.body.dump({ limit: 64 * 1024 }).catch(() => {});
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
    const retryAfter = res.headers['retry-after'];
    return {
      ok: false,
      error: `HTTP ${res.statusCode} from ${a.where}`,
      retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : (retryAfter ?? null), a.now),
    };
  } catch (err) {
    if (a.signal.aborted) return { ok: false, error: `delivery to ${a.where} was cancelled`, aborted: true };
    if (timeout.aborted) return { ok: false, error: `${a.where} did not answer within ${a.timeoutMs / 1000}s` };
    return { ok: false, error: `POST ${a.where} failed: ${networkReason(err)}` };
  }
}

/** A short reason for a connection-level failure: the error code where there is one (ECONNREFUSED ...). */
function networkReason(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  return e?.cause?.code ?? e?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}
