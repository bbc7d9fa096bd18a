// The kube-apiserver's audit log (test/controlplane AUDIT_POLICY: writes to idpsync.io objects and
// Leases, Metadata level) read back as records of who wrote what and when, by the apiserver's clock.
// The writer is told by its User-Agent, which names the operator replica (src/kube/user-agent.ts).
import { existsSync, readFileSync } from 'node:fs';
import { replicaOf } from '../../../src/kube/user-agent.js';

export interface AuditedWrite {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  code: number;
  /** The authenticated user, e.g. system:serviceaccount:idpsync-system:idpsync. */
  username: string;
  userAgent: string;
  /** The operator replica (Lease holder identity) named by the User-Agent; undefined for other clients. */
  replica?: string;
  /** Microseconds since the epoch: when the apiserver received the request, and when it answered. */
  receivedUs: number;
  completedUs: number;
}

/** RFC 3339 with up to nanoseconds, as the apiserver writes it, to microseconds since the epoch. */
export function microsecondsOf(timestamp: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(timestamp);
  if (!m) throw new Error(`not an RFC 3339 UTC timestamp: ${timestamp}`);
  const fraction = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return Date.parse(`${m[1]}Z`) * 1000 + Number(fraction);
}

interface AuditEvent {
  stage?: string;
  verb?: string;
  user?: { username?: string };
  userAgent?: string;
  objectRef?: { apiGroup?: string; resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
}

/** The completed write requests in the audit log, oldest first. */
export function readAuditedWrites(path: string): AuditedWrite[] {
  if (!existsSync(path)) return [];
  const writes: AuditedWrite[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as AuditEvent;
    if (event.stage !== 'ResponseComplete' || !event.objectRef || !event.requestReceivedTimestamp || !event.stageTimestamp) continue;
    const userAgent = event.userAgent ?? '';
    writes.push({
      verb: event.verb ?? '',
      group: event.objectRef.apiGroup ?? '',
      resource: event.objectRef.resource ?? '',
      namespace: event.objectRef.namespace,
      name: event.objectRef.name,
      subresource: event.objectRef.subresource,
      code: event.responseStatus?.code ?? 0,
      username: event.user?.username ?? '',
      userAgent,
      replica: replicaOf(userAgent),
      receivedUs: microsecondsOf(event.requestReceivedTimestamp),
      completedUs: microsecondsOf(event.stageTimestamp),
    });
  }
  return writes.sort((a, b) => a.receivedUs - b.receivedUs);
}

export const succeeded = (w: AuditedWrite): boolean => w.code >= 200 && w.code < 300;

/**
 * Each write to an idpsync.io object by `username` (the operator's ServiceAccount) checked against
 * the Lease as the apiserver recorded it: the holder at a moment is the replica whose successful
 * Lease write last completed before it (a candidate writes the Lease only to take or renew it), and
 * it holds it only until leaseDurationMs after that write, when anyone may take it. A release (the
 * holder clearing it on a graceful stop) is not told apart at Metadata level; the failover test
 * never releases. Returns the writes that did not come from the holder, with who held it.
 */
export function writesByNonHolders(
  writes: AuditedWrite[],
  lease: { namespace: string; name: string; leaseDurationMs: number; username: string },
): Array<{ write: AuditedWrite; holder?: string }> {
  const leaseWrites = writes.filter(
    (w) => w.group === 'coordination.k8s.io' && w.resource === 'leases' && w.namespace === lease.namespace && w.name === lease.name && w.replica && succeeded(w),
  );
  const holderAt = (us: number): string | undefined => {
    const last = leaseWrites.filter((l) => l.completedUs <= us).pop();
    if (!last || us - last.completedUs > lease.leaseDurationMs * 1000) return undefined;
    return last.replica;
  };
  return writes
    .filter((w) => w.group === 'idpsync.io' && w.username === lease.username)
    .map((write) => ({ write, holder: holderAt(write.receivedUs) }))
    .filter(({ write, holder }) => write.replica === undefined || write.replica !== holder);
}

/** First and last moment (µs) one replica wrote idpsync.io objects, and how many writes. */
export function writeInterval(writes: AuditedWrite[], replica: string): { count: number; firstUs: number; lastUs: number } | undefined {
  const own = writes.filter((w) => w.group === 'idpsync.io' && w.replica === replica);
  if (own.length === 0) return undefined;
  return { count: own.length, firstUs: Math.min(...own.map((w) => w.receivedUs)), lastUs: Math.max(...own.map((w) => w.completedUs)) };
}
