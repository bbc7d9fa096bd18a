// Structured JSON logging with redaction. Anything logged passes through `redact()`: values under
// secret-looking keys and every occurrence of a registered secret value become "[REDACTED]",
// including inside error messages and stacks.
import winston from 'winston';

export type Logger = winston.Logger;

/** Replacement text for anything secret. */
export const REDACTED = '[REDACTED]';

// Compared against the key lower-cased with "_" and "-" removed.
const SECRET_KEY_PARTS = [
  'password',
  'passwd',
  'secret',
  'token',
  'privatekey',
  'apikey',
  'authorization',
  'assertion',
  'credential',
  'cookie',
  'bearer',
  'signature',
];
// Keys that merely name or point at a secret ("secretRef", "tokenUrl", "credentialsSecretName").
const NON_SECRET_KEY_SUFFIXES = ['name', 'names', 'ref', 'namespace', 'url', 'uri', 'endpoint', 'type', 'count'];

/** True when a field with this key should never be logged. */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  if (NON_SECRET_KEY_SUFFIXES.some((suffix) => k.endsWith(suffix))) return false;
  return SECRET_KEY_PARTS.some((part) => k.includes(part));
}

// Shapes that are credentials wherever they appear, registered or not.
const SECRET_PATTERNS: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\b(Bearer|SSWS|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g,
  /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, // JWT
];

/** Registered values shorter than this are ignored: they would redact ordinary words. */
export const MIN_SECRET_LENGTH = 6;
const secrets = new Set<string>();

/**
 * Registers a secret value (e.g. read from a Secret) so it is redacted from all log output and
 * event notes; each line of a multi-line value (a PEM key) is registered too.
 */
export function registerSecret(value: string | undefined | null): void {
  if (!value) return;
  for (const candidate of [value, ...value.split(/\r?\n/)]) {
    const trimmed = candidate.trim();
    if (trimmed.length >= MIN_SECRET_LENGTH) secrets.add(trimmed);
  }
}

/** Forgets every registered secret (tests). */
export function clearRegisteredSecrets(): void {
  secrets.clear();
}

/** Replaces registered secret values and credential-shaped substrings in `text`. */
export function redactString(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, REDACTED);
  return out;
}

const MAX_DEPTH = 12;

/** Deep copy of `value` with secrets redacted; Errors become plain objects with name, message and stack. */
export function redactValue(value: unknown): unknown {
  return redactInner(value, 0, new WeakSet());
}

function redactInner(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => redactInner(v, depth + 1, seen));
    if (value instanceof Date) return value;
    const source: Record<string, unknown> =
      value instanceof Error ? errorFields(value) : (value as Record<string, unknown>);
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(source)) {
      out[key] = isSecretKey(key) && v !== undefined && v !== null ? REDACTED : redactInner(v, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function errorFields(err: Error): Record<string, unknown> {
  const fields: Record<string, unknown> = { name: err.name, message: err.message };
  Object.assign(fields, err);
  if (err.stack) fields.stack = err.stack;
  if (err.cause !== undefined) fields.cause = err.cause;
  return fields;
}

/** winston format that redacts every field of a log entry (symbol-keyed internals are kept as-is). */
export const redactFormat = winston.format((info) => {
  const redacted = redactValue({ ...info }) as Record<string, unknown>;
  for (const key of Object.keys(info)) delete (info as Record<string, unknown>)[key];
  Object.assign(info, redacted);
  return info;
});

export interface LoggerOptions {
  /** Minimum level: error, warn, info, debug (default info). */
  level?: string;
  /** Where entries go (default: one JSON line each on stdout). */
  transports?: winston.transport[];
}

/** A JSON logger whose output is always redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return winston.createLogger({
    level: options.level ?? 'info',
    format: winston.format.combine(
      winston.format.errors({ stack: true, cause: true }),
      winston.format.timestamp(),
      redactFormat(),
      winston.format.json(),
    ),
    transports: options.transports ?? [new winston.transports.Console()],
  });
}

/** The process-wide logger (level from LOG_LEVEL); runtime components log through children of it. */
export const logger: Logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });

/** A logger that discards everything (tests). */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
