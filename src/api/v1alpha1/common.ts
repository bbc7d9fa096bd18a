// Building blocks shared by the idpsync.io/v1alpha1 kinds. The schemas here are the single source of
// truth: TypeScript types are derived with Static<>, and `npm run generate` renders crds/*.yaml.
import { Type, type Static, type TSchema, type SchemaOptions } from '@sinclair/typebox';

export const GROUP = 'idpsync.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Attaches CEL rules (x-kubernetes-validations) to a schema. */
export function cel(...rules: CelRule[]): SchemaOptions {
  return { 'x-kubernetes-validations': rules };
}

/** CEL rules and the description `kubectl explain` shows, for one schema. */
export function withDescription(description: string, ...rules: CelRule[]): SchemaOptions {
  return { ...cel(...rules), description };
}

const DURATION_PATTERN = "^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$";

/** A Go-style duration; `min` (itself a duration) adds a rule with a message that says why. */
export const Duration = ({ min, minReason, ...options }: SchemaOptions & { min?: string; minReason?: string } = {}) =>
  Type.String({
    maxLength: 32,
    description: 'A Go-style duration such as "90s", "5m" or "2h30m".',
    'x-kubernetes-validations': [
      { rule: `self.matches('${DURATION_PATTERN}')`, message: 'must be a duration such as "90s", "5m" or "2h30m" (units ms, s, m, h)' },
      ...(min
        ? [{ rule: `!self.matches('${DURATION_PATTERN}') || duration(self) >= duration('${min}')`, message: `must be at least ${min}${minReason ? ` (${minReason})` : ''}` }]
        : []),
    ],
    ...options,
  } as SchemaOptions);

export const Timestamp = (description: string) => Type.String({ format: 'date-time', description });

export const DnsLabelName = (description: string) =>
  Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', description });

export const Condition = Type.Object({
  type: Type.String({ maxLength: 316, description: 'Condition type, e.g. Ready.' }),
  status: Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')]),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  lastTransitionTime: Timestamp('When the status last changed.'),
  reason: Type.String({ maxLength: 1024, description: 'CamelCase reason for the last transition.' }),
  message: Type.String({ maxLength: 32768, description: 'Human-readable detail.' }),
});
export type Condition = Static<typeof Condition>;

export const ObjectMeta = Type.Object({
  name: Type.Optional(Type.String()),
  namespace: Type.Optional(Type.String()),
  uid: Type.Optional(Type.String()),
  generation: Type.Optional(Type.Integer()),
  resourceVersion: Type.Optional(Type.String()),
  creationTimestamp: Type.Optional(Type.String()),
  deletionTimestamp: Type.Optional(Type.String()),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  finalizers: Type.Optional(Type.Array(Type.String())),
  ownerReferences: Type.Optional(
    Type.Array(
      Type.Object({
        apiVersion: Type.String(),
        kind: Type.String(),
        name: Type.String(),
        uid: Type.String(),
        controller: Type.Optional(Type.Boolean()),
        blockOwnerDeletion: Type.Optional(Type.Boolean()),
      }),
    ),
  ),
});
export type ObjectMeta = Static<typeof ObjectMeta>;

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: TSchema;
  status: TSchema;
  /** Rules on the whole object (may read metadata.name). */
  rootRules?: CelRule[];
  /**
   * False when status is written together with spec in one request (no /status subresource), because a
   * field of status must change atomically with the spec (a User's revocation record and its groups).
   */
  statusSubresource?: boolean;
  printerColumns: PrinterColumn[];
}

/** Labels and annotations the operator reads or writes. */
export const LABELS = {
  directory: `${GROUP}/directory`,
  idpId: `${GROUP}/idp-id-hash`,
  /** On Groups: a hash of the IdP display name, so Policies naming a group by idpName resolve with a label query. */
  idpNameHash: `${GROUP}/idp-name-hash`,
  /** On Policies: the Group object the Policy grants access through (kubectl get idppolicy -l idpsync.io/group=NAME). */
  group: `${GROUP}/group`,
  /** On Policies written from a DirectorySync's spec.policies: the rule's name. */
  policyRule: `${GROUP}/policy-rule`,
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

export const ANNOTATIONS = {
  /** Set to any new value (e.g. a timestamp) to request a sync now; echoed in status.lastHandledSyncAt. */
  syncNow: `${GROUP}/sync-now`,
  /** Set to the value shown in the DeletionsHeld condition to let held deletions through once. */
  approveDeletions: `${GROUP}/approve-deletions`,
  /**
   * Set by a replica that is not the leader after it changed a SCIM directory's store (the store's new
   * resourceVersion), so the leader syncs that directory at once. Not for people to set.
   */
  scimStoreChanged: `${GROUP}/scim-store-changed`,
  /** Written by the operator on a Group a listing did not include: kept until the next listing confirms it is gone. */
  missingSince: `${GROUP}/missing-since`,
} as const;

export const FINALIZER = `${GROUP}/cleanup`;
export const FIELD_MANAGER = 'idpsync';
/** Owns status.notifications of a DirectorySync, so sync status writes never overwrite delivery state. */
export const NOTIFIER_FIELD_MANAGER = 'idpsync-notifier';
