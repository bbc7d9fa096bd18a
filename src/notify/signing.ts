// Standard Webhooks signatures (https://www.standardwebhooks.com): every delivery carries
//   webhook-id         the message id (here the CloudEvent id; stable across retries)
//   webhook-timestamp  unix seconds when this attempt was signed
//   webhook-signature  "v1,<base64 HMAC-SHA256(key, `${id}.${timestamp}.${body}`)>", several space-separated
//                      during a key rotation
// The key is the secret's UTF-8 bytes, or for a "whsec_<base64>" secret the decoded bytes.
import { createHmac, timingSafeEqual } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
const VERSION_PREFIX = 'v1,';

/** Default window a receiver accepts between a signature's timestamp and its own clock. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * The HMAC key a secret stands for. Throws on an empty key (it would sign nothing) and on a "whsec_"
 * secret that is not strict base64 (Node would quietly skip the bad characters).
 */
export function signingKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) {
    if (secret.length === 0) throw new Error('the webhook signing secret is empty');
    return Buffer.from(secret, 'utf8');
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  const key = Buffer.from(encoded, 'base64');
  if (key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
    throw new Error('the webhook signing secret starts with "whsec_" but the rest is not base64');
  }
  if (key.length === 0) throw new Error('the webhook signing secret is empty');
  return key;
}

function sign(key: Buffer, id: string, timestampSeconds: number, body: string): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest();
}

export function signatureHeaders(secret: string, id: string, timestampSeconds: number, body: string): Record<string, string> {
  const timestamp = Math.floor(timestampSeconds);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': VERSION_PREFIX + sign(signingKey(secret), id, timestamp, body).toString('base64'),
  };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(' ') : value;
  }
  return undefined;
}

/**
 * True when one of the signatures in `webhook-signature` is valid for this body, id and timestamp,
 * and the timestamp is within `toleranceSeconds` of now (either side), which bounds replays.
 */
export function verifySignature(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  opts: { nowSeconds?: number; toleranceSeconds?: number } = {},
): boolean {
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signatures || !/^\d{1,15}$/.test(timestampText)) return false;

  const timestamp = Number(timestampText);
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false;

  let key: Buffer;
  try {
    key = signingKey(secret);
  } catch {
    return false;
  }
  const expected = sign(key, id, timestamp, body);
  let valid = false;
  for (const candidate of signatures.split(' ')) {
    if (!candidate.startsWith(VERSION_PREFIX)) continue;
    const given = Buffer.from(candidate.slice(VERSION_PREFIX.length), 'base64');
    // Check every candidate so timing does not tell which one matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
  }
  return valid;
}
