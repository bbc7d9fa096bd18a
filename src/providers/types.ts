// The contract between identity-provider drivers and the rest of the operator.
// Drivers know HTTP and their IdP; they know nothing of Kubernetes.
import type { DirectorySnapshot } from '../directory/snapshot.js';
import type { RateLimitRecord } from './rate-limits.js';

export interface FetchOptions {
  /** Cursor returned by the previous successful fetch, if any. */
  cursor?: Record<string, string>;
  /** Include organisational units as Groups of kind OrgUnit (where the IdP has them). */
  syncOrgUnits: boolean;
  /**
   * Read the whole directory, not only what changed since the last read. Set while people or groups
   * missing from the last listing wait to be confirmed gone: an incremental read would carry that
   * listing's gaps forward instead of checking them.
   */
  complete?: boolean;
  signal?: AbortSignal;
}

export interface VerifyCheck {
  /** What was checked, in the IdP's own terms (e.g. "okta.groups.read", "GET /api/v1/groups"). */
  name: string;
  ok: boolean;
  /** The permission/scope that is missing, in the IdP's own terms, when not ok. */
  missing?: string;
  message?: string;
}

export interface VerifyResult {
  ok: boolean;
  checks: VerifyCheck[];
}

/** What verify() checks for: the same choices a fetch makes, so it checks every permission that fetch needs. */
export interface VerifyOptions {
  signal?: AbortSignal;
  /** Also check what reading organisational units needs. Default false. */
  syncOrgUnits?: boolean;
}

/** Accepts verify(signal) as well as verify(options), so callers written for the older form keep working. */
export function verifyOptions(arg: VerifyOptions | AbortSignal | undefined): VerifyOptions {
  if (arg === undefined) return {};
  return arg instanceof AbortSignal ? { signal: arg } : arg;
}

/**
 * One driver instance serves one directory. The controller keeps the instance across syncs while the
 * DirectorySync's provider settings and its Secret are unchanged, so a driver may keep incremental
 * state (delta links and the last full picture) in memory; after a restart its first fetch is a full one.
 */
export interface ProviderDriver {
  readonly type: string;
  fetch(options: FetchOptions): Promise<DirectorySnapshot>;
  /**
   * Calls each endpoint a fetch with these options needs once, with a minimal page. Reports a refusal
   * (401/403, bad configuration) as a failed check; throws only when the IdP cannot answer for now.
   */
  verify(options?: VerifyOptions | AbortSignal): Promise<VerifyResult>;
  /** Releases the driver's connections; call when the driver is replaced or its directory goes away. */
  close?(): Promise<void>;
}

/** Everything a driver factory gets: the provider block of the spec and the Secret's data. */
export interface DriverContext<Settings = unknown> {
  settings: Settings;
  /** Decoded Secret data (key → UTF-8 string). Never log these values. */
  credentials: Record<string, string>;
  /** PEM CA bundle to trust in addition to the system roots. */
  caBundle?: string;
  /** Permit http:// URLs to loopback addresses (emulators, local development). */
  allowInsecureLoopback?: boolean;
  /** The DirectorySync this driver serves (a push provider reads what was pushed to it). */
  directory?: { namespace: string; name: string };
  /** Injected for tests; defaults to Date.now. */
  now?: () => number;
  /** Injected for tests; defaults to a real timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Where the driver's HTTP client records the IdP's rate-limit answers (see rate-limits.ts). */
  rateLimits?: RateLimitRecord;
}

/**
 * Builds a driver. Each driver declares its own settings type; src/providers/registry.ts checks a
 * provider block against its schema before handing it over, so the untyped form exists only there.
 */
export type DriverFactory<Settings = unknown> = (ctx: DriverContext<Settings>) => ProviderDriver;
