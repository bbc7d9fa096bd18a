// The one way drivers verify: run each probe in order, report a refusal as a failed check naming what
// is missing, stop after a probe everything else depends on (the token), and let "try again later"
// errors through, since they say nothing about permissions.
import { StallError } from '../errors.js';
import type { VerifyCheck, VerifyResult } from './types.js';

/** A probe's answer when there is nothing to try it on (e.g. no group to read the members of). */
export interface Skipped {
  skipped: string;
}

export interface Probe {
  /** The check's name in the IdP's terms, e.g. "GET /api/v1/groups"; a function when it depends on earlier probes. */
  name: string | (() => string);
  /** Makes the call with a minimal page. */
  run: (signal?: AbortSignal) => Promise<void | Skipped>;
  /** Reported as missing when the IdP refuses the call and its error names nothing more precise. */
  permission?: string;
  /** When this probe fails the rest cannot tell anything (a token, the configuration): stop after it. */
  required?: boolean;
  /** Left out entirely when this answers false (its prerequisite failed and was reported already). */
  onlyIf?: () => boolean;
  /** Several checks for one failure (e.g. one per refused scope); default one failed check. */
  failed?: (err: StallError) => VerifyCheck[];
}

export interface ProbeOptions {
  signal?: AbortSignal;
  /** Reported as missing when the IdP rejects the credentials themselves (e.g. "a valid API key"). */
  credentials?: string;
}

export async function runProbes(probes: Probe[], options: ProbeOptions = {}): Promise<VerifyResult> {
  const checks: VerifyCheck[] = [];
  for (const probe of probes) {
    if (probe.onlyIf && !probe.onlyIf()) continue;
    try {
      const outcome = await probe.run(options.signal);
      checks.push({ name: nameOf(probe), ok: true, ...(outcome ? { message: `skipped: ${outcome.skipped}` } : {}) });
    } catch (err) {
      if (!(err instanceof StallError)) throw err;
      checks.push(...(probe.failed?.(err) ?? [failedCheck(nameOf(probe), err, probe.permission, options.credentials)]));
      if (probe.required) break;
    }
  }
  return { ok: checks.every((c) => c.ok), checks };
}

export function failedCheck(name: string, err: StallError, permission?: string, credentials?: string): VerifyCheck {
  const missing =
    err.missingPermission ??
    (err.reason === 'AccessDenied' ? permission : undefined) ??
    (err.reason === 'InvalidCredentials' ? credentials : undefined);
  return { name, ok: false, ...(missing ? { missing } : {}), message: err.message };
}

function nameOf(probe: Probe): string {
  return typeof probe.name === 'function' ? probe.name() : probe.name;
}
