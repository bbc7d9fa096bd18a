// An error whose text carries a credential (an invalid HTTP header value is quoted in full by the
// HTTP client) must never be shown as it is: it becomes a Stall that names the Secret key, not the value.
import { StallError, describeError } from '../errors.js';

/** The Secret key whose value (or one of its lines) appears in `text`, if any. */
export function credentialKeyIn(text: string, credentials: Record<string, string>): string | undefined {
  for (const [key, value] of Object.entries(credentials)) {
    const parts = [value, ...value.split(/\r?\n/)].map((p) => p.trim()).filter((p) => p.length >= 8);
    if (parts.some((p) => text.includes(p))) return key;
  }
  return undefined;
}

/** The Stall to throw instead of `err` when its text quotes a credential; undefined when it does not. */
export function credentialLeakError(err: unknown, credentials: Record<string, string>, secretName: string): StallError | undefined {
  const key = credentialKeyIn(textWithCauses(err), credentials);
  if (key === undefined) return undefined;
  return new StallError(
    'InvalidCredentials',
    `the value of key "${key}" in Secret ${secretName} cannot be sent to the IdP (it contains a line break or another character an HTTP header cannot carry); fix the Secret`,
  );
}

/** An error's message and those of its causes: the HTTP layer keeps the client's quoting text as the cause only. */
function textWithCauses(err: unknown): string {
  const texts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    texts.push(describeError(e));
  }
  return texts.join('\n');
}
