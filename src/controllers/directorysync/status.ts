// Computes the next DirectorySync status from the previous one and what this reconcile found.
// Pure: the reconciler writes the result once, and only when it differs.
import type { Condition, DirectorySyncStatus } from '../../api/v1alpha1/index.js';
import type { Plan } from '../../directory/decide.js';
import type { VerifyResult } from '../../providers/types.js';
import { InternalError, StallError, TransientError } from '../../errors.js';
import { MAX_SKIPPED_SHOWN } from '../../api/v1alpha1/index.js';
import { redactString } from '../../runtime/logger.js';
import type { RejectedObject } from './apply.js';
import { removeCondition, setCondition } from '../conditions.js';
import { sameJson } from '../../directory/decide.js';

export type Outcome =
  | { kind: 'synced'; plan: Plan; apiCalls: number; writes: number; provider: string; rejected?: RejectedObject[] }
  | { kind: 'failed'; error: StallError | TransientError | InternalError; apiCalls?: number };

export interface StatusInput {
  previous: DirectorySyncStatus;
  generation: number;
  now: Date;
  outcome: Outcome;
  verify?: VerifyResult;
  handledSyncAt?: string;
  publicKey?: DirectorySyncStatus['publicKey'];
  /** Webhooks in spec.notifications: how many are usable and what is wrong with the rest. */
  webhooks?: { configured: number; problems: string[] };
  /** lastSyncTime is refreshed on every status write, and at least this often otherwise. */
  heartbeatMs: number;
}

const CREDENTIAL_REASONS = new Set(['InvalidCredentials', 'AccessDenied', 'SecretNotFound']);

/**
 * The status written when a new generation is picked up, before the sync starts: Reconciling=True (and
 * Ready=Unknown if it had no Ready yet), so GitOps tools (kstatus: InProgress) wait for the first result
 * instead of reading a fresh object as Current. Undefined when already in progress or up to date.
 */
export function progressingStatus(previous: DirectorySyncStatus, generation: number, now: Date): DirectorySyncStatus | undefined {
  const reconciling = previous.conditions?.find((c) => c.type === 'Reconciling')?.status === 'True';
  if (previous.observedGeneration === generation || reconciling) return undefined;
  const nowIso = now.toISOString();
  const message = `Syncing generation ${generation}`;
  let conditions = setCondition(previous.conditions ?? [], { type: 'Reconciling', status: 'True', reason: 'Progressing', message }, nowIso, generation);
  if (!previous.conditions?.some((c) => c.type === 'Ready')) {
    conditions = setCondition(conditions, { type: 'Ready', status: 'Unknown', reason: 'Progressing', message }, nowIso, generation);
  }
  return { ...previous, conditions };
}

export function nextStatus(input: StatusInput): { status: DirectorySyncStatus; changed: boolean } {
  const { previous, generation, outcome } = input;
  const nowIso = input.now.toISOString();
  let conditions = previous.conditions ?? [];
  const next: DirectorySyncStatus = { ...previous, observedGeneration: generation };
  if (input.handledSyncAt !== undefined) next.lastHandledSyncAt = input.handledSyncAt;
  if (input.publicKey) next.publicKey = input.publicKey;

  if (input.verify) {
    const failed = input.verify.checks.filter((c) => !c.ok);
    conditions = setCondition(
      conditions,
      failed.length
        ? {
            type: 'Verified',
            status: 'False',
            reason: 'PermissionMissing',
            message: failed.map((c) => `${c.name}: ${c.missing ? `missing ${c.missing}` : (c.message ?? 'failed')}`).join('; '),
          }
        : { type: 'Verified', status: 'True', reason: 'AllChecksPassed', message: `${input.verify.checks.length} endpoint check(s) passed` },
      nowIso,
      generation,
    );
  }

  if (outcome.kind === 'synced') {
    const { plan } = outcome;
    next.counts = plan.counts;
    next.policies = plan.policies.total;
    next.apiCalls = outcome.apiCalls;
    next.writes = outcome.writes;
    next.failures = 0;
    delete next.lastError;
    const skipped = [
      ...plan.refused.map((r) => ({ kind: r.kind, name: r.idpId, message: `IdP record refused: ${r.reason}` })),
      ...(outcome.rejected ?? []).map((r) => ({ kind: r.kind, name: r.name, message: r.message.slice(0, 1024) })),
    ];
    if (skipped.length) {
      next.skipped = skipped.slice(0, MAX_SKIPPED_SHOWN);
      next.skippedCount = skipped.length;
    } else {
      delete next.skipped;
      delete next.skippedCount;
    }
    const revoked = plan.revocations.length > 0;
    if (revoked) next.lastRevocationTime = nowIso;
    if (plan.deletions.length) next.recentDeletions = recordDeletions(previous.recentDeletions ?? [], plan, nowIso);
    if (plan.held) next.heldDeletions = plan.held;
    else delete next.heldDeletions;
    const rejected = outcome.rejected ?? [];
    conditions = setCondition(
      conditions,
      rejected.length
        ? {
            type: 'Ready',
            status: 'False',
            reason: 'ObjectsRejected',
            message: `${syncedMessage(outcome.provider, plan)}, but the apiserver refused ${rejected.length} object(s), left as they were: ${rejected
              .slice(0, 3)
              .map((r) => `${r.kind} ${r.name}: ${r.message}`)
              .join('; ')}${rejected.length > 3 ? '; … (see status.skipped)' : ''}`,
          }
        : { type: 'Ready', status: 'True', reason: 'Synced', message: syncedMessage(outcome.provider, plan) },
      nowIso,
      generation,
    );
    conditions = setCondition(conditions, { type: 'CredentialsValid', status: 'True', reason: 'Authenticated', message: 'The IdP accepted the credentials' }, nowIso, generation);
    conditions = setCondition(conditions, { type: 'IdpReachable', status: 'True', reason: 'Reachable', message: 'The last sync read the whole directory' }, nowIso, generation);
    conditions = plan.held
      ? setCondition(
          conditions,
          {
            type: 'DeletionsHeld',
            status: 'True',
            reason: 'MassDeletionGuard',
            message: `Holding back ${plan.held.users} user and ${plan.held.groups} group deletion(s) (e.g. ${plan.held.sample.slice(0, 5).join(', ')}); to approve: kubectl annotate directorysync <name> idpsync.io/approve-deletions=${plan.held.token} --overwrite`,
          },
          nowIso,
          generation,
        )
      : removeCondition(conditions, 'DeletionsHeld');
    conditions = removeCondition(removeCondition(conditions, 'Stalled'), 'Reconciling');
  } else {
    const err = outcome.error;
    next.lastError = err.message.slice(0, 4096);
    next.failures = (previous.failures ?? 0) + 1;
    if (outcome.apiCalls !== undefined) next.apiCalls = outcome.apiCalls;
    conditions = setCondition(conditions, { type: 'Ready', status: 'False', reason: err.reason, message: err.message }, nowIso, generation);
    if (err instanceof StallError) {
      conditions = setCondition(conditions, { type: 'Stalled', status: 'True', reason: err.reason, message: `${err.message}. Fix the cause, then change the spec or Secret, or annotate idpsync.io/sync-now to retry.` }, nowIso, generation);
      conditions = removeCondition(conditions, 'Reconciling');
      if (CREDENTIAL_REASONS.has(err.reason)) {
        conditions = setCondition(conditions, { type: 'CredentialsValid', status: 'False', reason: err.reason, message: err.message }, nowIso, generation);
      }
    } else {
      conditions = setCondition(conditions, { type: 'Reconciling', status: 'True', reason: 'RetryingAfterError', message: `Retrying with backoff: ${err.message}` }, nowIso, generation);
      conditions = removeCondition(conditions, 'Stalled');
      // Only the IdP's own failures say anything about reaching it.
      if (err instanceof TransientError && err.origin === 'idp') {
        conditions = setCondition(conditions, { type: 'IdpReachable', status: 'False', reason: err.reason, message: err.message }, nowIso, generation);
      }
    }
  }
  next.conditions = webhookCondition(conditions, input.webhooks, nowIso, generation).map((c) => ({ ...c, message: redactString(c.message) }));
  if (next.lastError !== undefined) next.lastError = redactString(next.lastError);

  const changed = !sameJson(withoutTimes(previous), withoutTimes(next));
  const stale = !previous.lastSyncTime || input.now.getTime() - Date.parse(previous.lastSyncTime) >= input.heartbeatMs;
  if (changed || (outcome.kind === 'synced' && stale)) {
    next.lastAttemptTime = nowIso;
    if (outcome.kind === 'synced') next.lastSyncTime = nowIso;
    return { status: next, changed: true };
  }
  return { status: previous, changed: false };
}

function webhookCondition(conditions: Condition[], webhooks: StatusInput['webhooks'], nowIso: string, generation: number): Condition[] {
  if (!webhooks || (webhooks.configured === 0 && webhooks.problems.length === 0)) return removeCondition(conditions, 'WebhooksConfigured');
  return setCondition(
    conditions,
    webhooks.problems.length
      ? { type: 'WebhooksConfigured', status: 'False', reason: 'WebhookSecretInvalid', message: webhooks.problems.join('; ') }
      : { type: 'WebhooksConfigured', status: 'True', reason: 'Configured', message: `${webhooks.configured} webhook(s) receive revocation events; delivery state is in status.notifications` },
    nowIso,
    generation,
  );
}

function withoutTimes(s: DirectorySyncStatus): DirectorySyncStatus {
  const { lastAttemptTime: _a, lastSyncTime: _b, ...rest } = s;
  return rest;
}

function syncedMessage(provider: string, plan: Plan): string {
  const c = plan.counts;
  const refused = plan.refused.length ? `; ${plan.refused.length} IdP record(s) refused (see status.skipped)` : '';
  const { users, groups } = plan.unconfirmed;
  const missing =
    users.length || groups.length
      ? `; ${users.length} user(s) and ${groups.length} group(s) missing from this listing are left as they were until the next listing confirms they are gone`
      : '';
  return `Synced ${c.activeUsers} active user(s) (${c.suspendedUsers} suspended, ${c.deletedUsers} deleted) and ${c.groups} group(s) from ${provider}${refused}${missing}`;
}

function recordDeletions(previous: NonNullable<DirectorySyncStatus['recentDeletions']>, plan: Plan, nowIso: string) {
  const added = plan.deletions.map((d) => ({ kind: d.kind, name: d.name, idpId: d.idpId, displayName: d.displayName, time: nowIso }));
  return [...added, ...previous].slice(0, 50);
}
