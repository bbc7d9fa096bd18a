import { Type, type Static } from '@sinclair/typebox';
import { Condition, Duration, Timestamp, withDescription, type KindDefinition } from './common.js';
import { PolicyRule } from './policy.js';

const Url = (description: string) =>
  Type.String({ maxLength: 2048, description, 'x-kubernetes-validations': [{ rule: 'isURL(self)', message: 'must be an absolute URL such as https://example.com' }] } as any);

export const OktaSettings = Type.Object(
  {
    domain: Type.String({
      minLength: 1,
      maxLength: 253,
      description: 'Okta org domain, e.g. "your-company.okta.com".',
      'x-kubernetes-validations': [{ rule: "!self.contains('/')", message: 'domain is a host name such as your-company.okta.com, without https:// or a path' }],
    } as any),
    clientId: Type.String({ minLength: 1, maxLength: 256, description: 'Client ID of the API service app.' }),
    appId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'Sync only users and groups assigned to this app (its Okta app id).' }),
    ),
    keyId: Type.Optional(Type.String({ maxLength: 256, description: 'kid of the public key registered in Okta, sent in the JWT header.' })),
    baseUrl: Type.Optional(Url('Overrides https://<domain> (emulators, proxies).')),
  },
  { description: 'Okta: OAuth 2.0 client credentials with private_key_jwt. Secret key "privateKey" (PEM or JWK), or "apiToken" (SSWS).' },
);

export const GoogleWorkspaceSettings = Type.Object(
  {
    customer: Type.String({ default: 'my_customer', maxLength: 64, description: 'Customer id; "my_customer" means the admin\'s own.' }),
    domain: Type.Optional(Type.String({ maxLength: 253, description: 'Only users and groups of this domain.' })),
    impersonate: Type.String({
      minLength: 3,
      maxLength: 320,
      description: 'Email of the admin the service account acts as (domain-wide delegation subject).',
    }),
    baseUrl: Type.Optional(Url('Overrides https://admin.googleapis.com.')),
    tokenUrl: Type.Optional(Url('Overrides https://oauth2.googleapis.com/token.')),
  },
  { description: 'Google Workspace: service account with domain-wide delegation. Secret key "serviceAccountKey" (the JSON key file).' },
);

export const EntraSettings = Type.Object(
  {
    tenantId: Type.String({ minLength: 1, maxLength: 128, description: 'Directory (tenant) id or verified domain.' }),
    clientId: Type.String({ minLength: 1, maxLength: 128, description: 'Application (client) id.' }),
    groups: Type.Union([Type.Literal('All'), Type.Literal('AssignedToApp')], {
      default: 'All',
      description: 'All groups, or only groups assigned to the enterprise app.',
    }),
    appId: Type.Optional(Type.String({ maxLength: 128, description: 'App whose assignments count; defaults to clientId.' })),
    delta: Type.Boolean({ default: true, description: 'Use delta queries so an unchanged directory costs a few calls.' }),
    loginUrl: Type.Optional(Url('Overrides https://login.microsoftonline.com (national clouds).')),
    graphUrl: Type.Optional(Url('Overrides https://graph.microsoft.com (national clouds).')),
  },
  { description: 'Microsoft Entra ID: client credentials. Secret key "clientSecret", or "certificate" and "privateKey" (PEM).' },
);

export const JumpCloudSettings = Type.Object(
  {
    region: Type.Union([Type.Literal('US'), Type.Literal('EU')], { default: 'US', description: 'Console region.' }),
    orgId: Type.Optional(Type.String({ maxLength: 64, description: 'Organization id, for multi-tenant admins (x-org-id).' })),
    applicationId: Type.Optional(Type.String({ maxLength: 64, description: 'Sync only users and groups bound to this application.' })),
    baseUrl: Type.Optional(Url('Overrides https://console.jumpcloud.com (or the EU host).')),
  },
  { description: 'JumpCloud: API key. Secret key "apiKey".' },
);

export const KeycloakSettings = Type.Object(
  {
    baseUrl: Url('Keycloak server URL, e.g. https://sso.example.com (with /auth for servers older than Keycloak 17).'),
    realm: Type.String({ minLength: 1, maxLength: 255, description: 'Realm whose users and groups are synced.' }),
    clientId: Type.String({ minLength: 1, maxLength: 255, description: 'Confidential client of that realm with a service account.' }),
  },
  { description: 'Keycloak: client credentials of a service account with realm-management view-users and query-groups. Secret key "clientSecret".' },
);

export const AuthentikSettings = Type.Object(
  {
    baseUrl: Url('authentik server URL, e.g. https://authentik.example.com (the API is read under /api/v3/).'),
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Rows per request (page_size); authentik\'s default 100.' })),
  },
  { description: 'authentik: API token of a user or service account with authentik_core.view_user and authentik_core.view_group. Secret key "token".' },
);

export const Auth0Settings = Type.Object(
  {
    domain: Type.String({
      minLength: 1,
      maxLength: 253,
      description: 'The tenant\'s Auth0 domain, e.g. "your-tenant.us.auth0.com" (not a custom domain: the Management API audience is named after this one).',
      'x-kubernetes-validations': [{ rule: "!self.contains('/')", message: 'domain is a host name such as your-tenant.us.auth0.com, without https:// or a path' }],
    } as any),
    clientId: Type.String({ minLength: 1, maxLength: 256, description: 'Client ID of the Machine to Machine application authorized for the Management API.' }),
    groupsFrom: Type.Array(Type.Union([Type.Literal('roles'), Type.Literal('organizations')]), {
      default: ['roles'],
      maxItems: 2,
      'x-kubernetes-list-type': 'set',
      description: 'What becomes a Group: roles (their directly assigned users), organizations (their members), or both.',
    } as any),
    audience: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Overrides the Management API audience https://<domain>/api/v2/.' })),
    baseUrl: Type.Optional(Url('Overrides https://<domain> for requests (a custom domain, a proxy, emulators); the audience still comes from domain.')),
  },
  { description: 'Auth0: client credentials of a Machine to Machine application with read:users, read:roles (and read:organizations, read:organization_members for organizations). Secret key "clientSecret".' },
);

export const ZitadelSettings = Type.Object(
  {
    baseUrl: Url('Zitadel instance URL, its external domain, e.g. https://my-instance.zitadel.cloud or https://auth.example.com (the issuer of its tokens).'),
    projectId: Type.String({ minLength: 1, maxLength: 200, description: 'Project whose roles become Groups; a Group\'s members are the users granted its role (user grants).' }),
    organizationId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Organization whose users and grants are read (sent as x-zitadel-orgid); defaults to the service user\'s own.' }),
    ),
    pageSize: Type.Optional(Type.Integer({ minimum: 2, maximum: 1000, description: 'Rows per request (limit); default 100.' })),
  },
  {
    description:
      'Zitadel: a service user with a manager role that reads users, user grants and project roles (e.g. Org Owner Viewer). Secret key "keyFile" (the service user\'s JSON key file) or "token" (a personal access token), exactly one.',
  },
);

export const ScimSettings = Type.Object(
  {},
  {
    description:
      'SCIM 2.0 push: the IdP provisions users and groups to the operator\'s SCIM server at /scim/v2/<namespace>/<name>. credentialsRef names the bearer-token Secret, which the operator creates as <name>-scim-token (key "token"; "previousToken" is also accepted during a rotation).',
  },
);

export const PROVIDER_TYPES = ['okta', 'googleWorkspace', 'entra', 'jumpcloud', 'keycloak', 'authentik', 'auth0', 'zitadel', 'scim'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

/** Every URL setting that overrides where the operator sends credentials. */
const ENDPOINT_FIELDS: [ProviderType, string][] = [
  ['okta', 'baseUrl'],
  ['googleWorkspace', 'baseUrl'],
  ['googleWorkspace', 'tokenUrl'],
  ['entra', 'loginUrl'],
  ['entra', 'graphUrl'],
  ['jumpcloud', 'baseUrl'],
  ['keycloak', 'baseUrl'],
  ['authentik', 'baseUrl'],
  ['auth0', 'baseUrl'],
  ['zitadel', 'baseUrl'],
];

export const Provider = Type.Object(
  {
    type: Type.Union(
      PROVIDER_TYPES.map((t) => Type.Literal(t)),
      { description: `Which identity provider: one of ${PROVIDER_TYPES.join(', ')}.` },
    ),
    okta: Type.Optional(OktaSettings),
    googleWorkspace: Type.Optional(GoogleWorkspaceSettings),
    entra: Type.Optional(EntraSettings),
    jumpcloud: Type.Optional(JumpCloudSettings),
    keycloak: Type.Optional(KeycloakSettings),
    authentik: Type.Optional(AuthentikSettings),
    auth0: Type.Optional(Auth0Settings),
    zitadel: Type.Optional(ZitadelSettings),
    scim: Type.Optional(ScimSettings),
    caBundle: Type.Optional(Type.String({ maxLength: 65536, description: 'PEM CA certificates to trust for the IdP, besides the system roots.' })),
    allowInsecureLoopback: Type.Boolean({
      default: false,
      description: 'Permit plain http:// endpoints on loopback addresses (local emulators only).',
    }),
  },
  withDescription(
    'Which identity provider to read, and how to reach it: type names the one settings block that must be set.',
    ...ENDPOINT_FIELDS.map(([block, field]) => ({
      rule: `!has(self.${block}) || !has(self.${block}.${field}) || self.${block}.${field}.startsWith('https://') || (self.allowInsecureLoopback && self.${block}.${field}.matches('^http://(127\\\\.[0-9.]+|localhost|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$'))`,
      message: `provider.${block}.${field} must be an https:// URL; plain http:// is accepted only for a loopback address (127.0.0.1, localhost, [::1]) with provider.allowInsecureLoopback: true`,
    })),
    ...PROVIDER_TYPES.map((t) => ({
      rule: `self.type != '${t}' || has(self.${t})`,
      message: `provider.type is ${t}, so the provider.${t} block with its settings is required`,
    })),
    {
      rule: `[${PROVIDER_TYPES.map((t) => `has(self.${t})`).join(', ')}].filter(x, x).size() <= 1`,
      message: 'set exactly one provider settings block, the one named by provider.type',
    },
  ),
);

export const CredentialsRef = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 253, description: 'Name of a Secret in the same namespace as this DirectorySync.' }),
    namespace: Type.Optional(
      Type.String({
        description: 'Not allowed: the Secret must live in the DirectorySync\'s own namespace.',
        'x-kubernetes-validations': [
          {
            rule: 'false',
            message:
              'credentialsRef.namespace is not allowed: the Secret must be in the same namespace as the DirectorySync (cross-namespace Secret references would let any namespace read any Secret)',
          },
        ],
      } as any),
    ),
    generateKeyPair: Type.Boolean({
      default: false,
      description:
        'Okta only: the operator creates this Secret with a new RSA key pair if it does not exist, and publishes the public key in status.publicKey for you to register in the IdP.',
    }),
  },
  { description: 'The Secret holding the provider credentials.' },
);

export const GroupFilter = Type.Object(
  {
    include: Type.Optional(
      Type.Array(Type.String({ maxLength: 256 }), { maxItems: 256, description: 'Glob patterns (* and ?) on group names; when set, only matching groups sync.' }),
    ),
    exclude: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 256, description: 'Glob patterns on group names to leave out.' })),
    ids: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 1024, description: 'IdP group ids to sync in addition to include.' })),
  },
  { description: 'Which groups to sync. Nesting is still followed through groups that are left out.' },
);

export const RoleMapping = Type.Object(
  {
    group: Type.String({ minLength: 1, maxLength: 256, description: 'IdP group name (or id) whose members get the role.' }),
    role: Type.Union([Type.Literal('Admin'), Type.Literal('User')], { description: 'The role written to status.role of those Users.' }),
  },
  { description: 'Members of one IdP group (nested members included) get one role.' },
);

export const DeletionSettings = Type.Object(
  {
  userRetention: Duration({ default: '720h', description: 'How long a Deleted User is kept for audit before it is removed.' }),
  maxDeletionPercent: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 25,
    description: 'A sync that would delete more than this share of users or groups (gone from the IdP or filtered out) holds those deletions back until approved; suspensions are never held.',
  }),
  guardMinimum: Type.Integer({
    minimum: 0,
    default: 10,
    description: 'The mass-deletion guard only applies when at least this many objects would go.',
  }),
  policy: Type.Union([Type.Literal('Delete'), Type.Literal('Orphan')], {
    default: 'Delete',
    description: 'When this DirectorySync is deleted: Delete its Users and Groups, or Orphan them.',
  }),
  },
  { description: 'How people and groups that leave the IdP are removed, and what happens when this DirectorySync is deleted.' },
);

export const NOTIFICATION_TYPES = [
  'io.idpsync.user.suspended',
  'io.idpsync.user.deleted',
  'io.idpsync.membership.removed',
  'io.idpsync.policy.removed',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export const Webhook = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', description: 'Names this endpoint in status and metrics.' }),
    url: Url('Where CloudEvents are POSTed (structured mode, application/cloudevents+json).'),
    secretRef: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 253, description: 'A Secret in this namespace.' }),
        key: Type.String({ default: 'signingSecret', maxLength: 253, description: 'The key holding the HMAC secret (raw, or "whsec_" + base64).' }),
      },
      { description: 'The shared secret that signs every delivery (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).' },
    ),
    types: Type.Optional(
      Type.Array(Type.Union(NOTIFICATION_TYPES.map((t) => Type.Literal(t))), { maxItems: NOTIFICATION_TYPES.length, description: 'Event types to send; empty means all.' }),
    ),
    caBundle: Type.Optional(Type.String({ maxLength: 65536, description: 'PEM CA certificates to trust for this endpoint, besides the system roots.' })),
    allowInsecureLoopback: Type.Boolean({ default: false, description: 'Permit plain http:// to loopback addresses (local receivers only).' }),
  },
  withDescription('An endpoint that receives signed CloudEvents when access is revoked.', {
    rule: "self.url.startsWith('https://') || (self.allowInsecureLoopback && self.url.matches('^http://(localhost|127\\\\.[0-9.]+|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$'))",
    message: 'url must use https:// (plain http:// is only allowed to a loopback address with allowInsecureLoopback: true)',
    fieldPath: '.url',
  }),
);
export type Webhook = Static<typeof Webhook>;

export const Notifications = Type.Object(
  {
    webhooks: Type.Array(Webhook, {
      maxItems: 8,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      description: 'Endpoints that receive signed CloudEvents when access is revoked.',
    } as any),
  },
  { description: 'Revocation notifications for systems outside Kubernetes (VPN gateways, proxies) that must cut sessions at once.' },
);

export const DirectorySyncSpec = Type.Object(
  {
    provider: Provider,
    credentialsRef: CredentialsRef,
    interval: Duration({
      default: '5m',
      min: '1m',
      minReason: 'every sync reads the whole directory from the IdP; annotate idpsync.io/sync-now for an immediate sync',
      description: 'Time between syncs, at least 1m (a jitter of up to 10% is added).',
    }),
    suspend: Type.Boolean({ default: false, description: 'Stop syncing; existing objects are left as they are.' }),
    syncOrgUnits: Type.Boolean({ default: false, description: 'Also sync organisational units as Groups of kind OrgUnit.' }),
    groups: Type.Optional(GroupFilter),
    roleMappings: Type.Optional(Type.Array(RoleMapping, { maxItems: 64, description: 'Roles given by IdP group membership; Admin wins over User.' })),
    deletion: Type.Optional(DeletionSettings),
    policies: Type.Optional(
      Type.Array(PolicyRule, {
        maxItems: 64,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        description: 'Policies the operator writes for matching groups: one per rule and Group, owned by the Group.',
      } as any),
    ),
    notifications: Type.Optional(Notifications),
  },
  withDescription('Which IdP directory to keep this namespace in step with, how often, and what to do with what it finds.', {
    rule: "!has(self.credentialsRef.generateKeyPair) || !self.credentialsRef.generateKeyPair || self.provider.type == 'okta'",
    message: 'credentialsRef.generateKeyPair is only supported for provider.type okta (private_key_jwt)',
  }),
);
export type DirectorySyncSpec = Static<typeof DirectorySyncSpec>;

const PublicKey = Type.Object({
  jwk: Type.String({ description: 'Public key as a JWK (JSON), to paste into the IdP.' }),
  pem: Type.String({ description: 'Public key in PEM (SPKI).' }),
  keyId: Type.String(),
});

const Counts = Type.Object({
  users: Type.Integer({ description: 'Users synced (all states).' }),
  activeUsers: Type.Integer(),
  suspendedUsers: Type.Integer(),
  deletedUsers: Type.Integer({ description: 'Soft-deleted Users kept for audit.' }),
  groups: Type.Integer(),
  memberships: Type.Integer({ description: 'User-in-group pairs after flattening.' }),
  missingUsers: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Users the last listing did not include, kept unchanged until the next listing confirms they are gone (User status.missingSince).' }),
  ),
  missingGroups: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Groups the last listing did not include, kept unchanged until the next listing confirms they are gone (annotation idpsync.io/missing-since).' }),
  ),
});

const HeldDeletions = Type.Object({
  users: Type.Integer(),
  groups: Type.Integer(),
  token: Type.String({ description: 'Set annotation idpsync.io/approve-deletions to this value to let them through.' }),
  sample: Type.Array(Type.String(), { maxItems: 20, description: 'Some of the objects that would go.' }),
});

const DeletionRecord = Type.Object({
  kind: Type.String(),
  name: Type.String(),
  idpId: Type.String(),
  displayName: Type.String(),
  time: Timestamp('When it was removed.'),
});

export const MAX_SKIPPED_SHOWN = 20;

const SkippedRecord = Type.Object({
  kind: Type.String({ description: 'User or Group (an IdP record), or the kind of object the apiserver refused.' }),
  name: Type.String({ maxLength: 512, description: 'The object name, or the IdP id of a refused record.' }),
  message: Type.String({ maxLength: 1024, description: 'Why: the apiserver\'s own message, or which limit the record breaks.' }),
});

export const WebhookStatus = Type.Object({
  name: Type.String(),
  delivered: Type.Integer({ description: 'Events delivered since the operator started.' }),
  failedAttempts: Type.Integer({ description: 'Failed delivery attempts since the operator started.' }),
  pending: Type.Integer({ description: 'Events waiting to be delivered (retried with backoff).' }),
  dropped: Type.Integer({ description: 'Events given up on (too old, or the queue was full).' }),
  lastDeliveryTime: Type.Optional(Timestamp('When an event was last delivered.')),
  lastFailureTime: Type.Optional(Timestamp('When a delivery last failed.')),
  lastError: Type.Optional(Type.String({ maxLength: 1024, description: 'Why the last delivery failed.' })),
});
export type WebhookStatus = Static<typeof WebhookStatus>;

const NotificationStatus = Type.Object(
  {
    webhooks: Type.Array(WebhookStatus, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] } as any),
  },
  { description: 'Delivery state of spec.notifications, written by the notifier.' },
);

export const DirectorySyncStatus = Type.Object({
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(
    Type.Array(Condition, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] } as any),
  ),
  lastAttemptTime: Type.Optional(Timestamp('When the last sync started.')),
  lastSyncTime: Type.Optional(Timestamp('When the last successful sync finished.')),
  lastError: Type.Optional(Type.String({ maxLength: 4096, description: 'What failed in the last sync, with the IdP\'s own words.' })),
  lastHandledSyncAt: Type.Optional(Type.String({ description: 'The last idpsync.io/sync-now annotation value handled.' })),
  lastRevocationTime: Type.Optional(Timestamp('When access was last revoked for anyone.')),
  apiCalls: Type.Optional(Type.Integer({ description: 'Calls made to the IdP in the last sync.' })),
  writes: Type.Optional(Type.Integer({ description: 'Objects created, changed or deleted in the last sync.' })),
  failures: Type.Optional(Type.Integer({ description: 'Consecutive failed syncs.' })),
  counts: Type.Optional(Counts),
  heldDeletions: Type.Optional(HeldDeletions),
  recentDeletions: Type.Optional(Type.Array(DeletionRecord, { maxItems: 50, description: 'Groups and users removed most recently.' })),
  skipped: Type.Optional(
    Type.Array(SkippedRecord, {
      maxItems: MAX_SKIPPED_SHOWN,
      description: 'IdP records refused and objects the apiserver rejected in the last sync; each was left as it was and everything else synced.',
    }),
  ),
  skippedCount: Type.Optional(Type.Integer({ minimum: 0, description: 'How many were skipped in the last sync (skipped shows the first 20).' })),
  publicKey: Type.Optional(PublicKey),
  policies: Type.Optional(Type.Integer({ description: 'Policies written from spec.policies.' })),
  notifications: Type.Optional(NotificationStatus),
});
export type DirectorySyncStatus = Static<typeof DirectorySyncStatus>;

export const DirectorySyncKind: KindDefinition = {
  kind: 'DirectorySync',
  plural: 'directorysyncs',
  singular: 'directorysync',
  shortNames: ['dsync'],
  description: 'Keeps Users and Groups in this namespace in step with one identity provider directory.',
  spec: DirectorySyncSpec,
  status: DirectorySyncStatus,
  rootRules: [
    {
      rule: 'self.metadata.name.size() <= 63',
      message: 'the name of a DirectorySync must be at most 63 characters: it is used as the value of the idpsync.io/directory label on every object it writes',
    },
  ],
  printerColumns: [
    { name: 'Provider', type: 'string', jsonPath: '.spec.provider.type' },
    { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type==\"Ready\")].status" },
    { name: 'Users', type: 'integer', jsonPath: '.status.counts.users' },
    { name: 'Groups', type: 'integer', jsonPath: '.status.counts.groups' },
    { name: 'Last Sync', type: 'date', jsonPath: '.status.lastSyncTime' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    { name: 'Status', type: 'string', jsonPath: ".status.conditions[?(@.type==\"Ready\")].message", priority: 1 },
  ],
};
