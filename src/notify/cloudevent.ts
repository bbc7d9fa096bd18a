// The CloudEvents 1.0 envelope of every revocation notification (structured JSON mode).
import { randomUUID } from 'node:crypto';
import { GROUP, VERSION } from '../api/v1alpha1/common.js';
import { NOTIFICATION_TYPES, type NotificationType } from '../api/v1alpha1/directorysync.js';

export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  /** Unique per event and stable across retries: receivers de-duplicate on it (it is also the webhook-id). */
  id: string;
  source: string;
  type: NotificationType;
  /** What the event is about, e.g. the User's name. */
  subject?: string;
  /** RFC 3339 time the revocation was observed. */
  time: string;
  datacontenttype: 'application/json';
  data: T;
}

/**
 * The `source` of every event a DirectorySync emits: the path of that object in the Kubernetes API,
 * `/apis/idpsync.io/v1alpha1/namespaces/<ns>/directorysyncs/<name>`, so (source, id) is unique and a
 * receiver can tell directories apart.
 */
export function directorySource(namespace: string, name: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/directorysyncs/${name}`;
}

export function newCloudEvent<T>(init: {
  source: string;
  type: NotificationType;
  subject?: string;
  data: T;
  now: Date;
  /** Defaults to a random UUID. */
  id?: string;
}): CloudEvent<T> {
  return {
    specversion: '1.0',
    id: init.id ?? randomUUID(),
    source: init.source,
    type: init.type,
    ...(init.subject !== undefined ? { subject: init.subject } : {}),
    time: init.now.toISOString(),
    datacontenttype: 'application/json',
    data: init.data,
  };
}

/** True when `value` has the shape of a CloudEvent this operator emits. */
export function isCloudEvent(value: unknown): value is CloudEvent {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    e.specversion === '1.0' &&
    typeof e.id === 'string' &&
    e.id.length > 0 &&
    typeof e.source === 'string' &&
    (NOTIFICATION_TYPES as readonly unknown[]).includes(e.type) &&
    (e.subject === undefined || typeof e.subject === 'string') &&
    typeof e.time === 'string' &&
    e.datacontenttype === 'application/json' &&
    'data' in e
  );
}
