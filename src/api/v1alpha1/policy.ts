import { Type, type Static } from '@sinclair/typebox';
import { cel, Condition, withDescription, type KindDefinition } from './common.js';

export const PROTOCOLS = ['TCP', 'UDP', 'ICMP'] as const;

const DNS_NAME = String.raw`^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`;

export const Resource = Type.Object(
  {
    address: Type.String({
      minLength: 1,
      maxLength: 253,
      description: 'A CIDR (10.0.0.0/8), an IP address, a DNS name (db.internal) or a wildcard DNS name (*.internal).',
    }),
    ports: Type.Optional(
      Type.Array(
        Type.String({
          maxLength: 11,
          pattern: '^[0-9]{1,5}(-[0-9]{1,5})?$',
          description: 'A port ("443") or an inclusive range ("8000-8100").',
          'x-kubernetes-validations': [
            {
              // substring/indexOf rather than split(): the apiserver's cost estimate for split() and
              // all() is several times higher, too high for a DirectorySync that embeds Resources.
              rule:
                "self.contains('-') ? (int(self.substring(0, self.indexOf('-'))) >= 1 && int(self.substring(0, self.indexOf('-'))) <= int(self.substring(self.indexOf('-') + 1)) && int(self.substring(self.indexOf('-') + 1)) <= 65535) : (int(self) >= 1 && int(self) <= 65535)",
              message: 'ports must be between 1 and 65535, and a range must go from low to high (e.g. 8000-8100)',
            },
          ],
        } as any),
        { maxItems: 64, description: 'Empty means every port.' },
      ),
    ),
    protocols: Type.Optional(
      Type.Array(Type.Union(PROTOCOLS.map((p) => Type.Literal(p))), { maxItems: 3, description: 'Empty means every protocol.' }),
    ),
  },
  withDescription(
    'An address (CIDR, IP or DNS name) with optional ports and protocols.',
    {
      rule: `isCIDR(self.address) || isIP(self.address) || self.address.matches('${DNS_NAME.replace(/\\/g, '\\\\')}')`,
      message: 'address must be a CIDR (10.0.0.0/8), an IP address, or a lower-case DNS name, optionally starting with "*." (e.g. *.corp.example.com)',
      fieldPath: '.address',
    },
    {
      // Digits and dots read as an IPv4 address to people and to gateways, never as a DNS name.
      rule: "!self.address.matches('^[0-9./]+$') || isIP(self.address) || isCIDR(self.address)",
      message: 'address looks like an IPv4 address or CIDR but is not one: each of the four parts must be 0-255, and a prefix length 0-32',
      fieldPath: '.address',
    },
    {
      rule: "!has(self.ports) || self.ports.size() == 0 || !has(self.protocols) || self.protocols.all(p, p != 'ICMP')",
      message: 'ports cannot be combined with the ICMP protocol',
    },
  ),
);

export const GroupSelector = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 253, description: 'A Group object in this namespace.' })),
    idpName: Type.Optional(Type.String({ maxLength: 1024, description: 'The group\'s name in the IdP.' })),
    idpId: Type.Optional(Type.String({ maxLength: 512, description: 'The group\'s id in the IdP (survives renames).' })),
    directory: Type.Optional(Type.String({ maxLength: 253, description: 'Limit idpName/idpId matching to one DirectorySync.' })),
  },
  {
    ...cel({ rule: 'has(self.name) || has(self.idpName) || has(self.idpId)', message: 'group needs one of name, idpName or idpId' }),
    description: 'The Group whose members get access: by object name, IdP name or IdP id.',
  },
);

export const PolicySpec = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 1024, description: 'What this access is for, for people.' })),
    group: GroupSelector,
    resources: Type.Array(Resource, { minItems: 1, maxItems: 256, description: 'What the Group\'s active members may reach.' }),
  },
  { description: 'Grants the active members of one Group access to the listed resources.' },
);
export type PolicySpec = Static<typeof PolicySpec>;

/** A rule on a DirectorySync: one Policy per Group that matches. */
export const PolicyRule = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 40,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      description: 'Short name, used in the names of the Policies written for this rule.',
    }),
    groups: Type.Object(
      {
        names: Type.Optional(Type.Array(Type.String(), { maxItems: 256, description: 'IdP group names.' })),
        patterns: Type.Optional(Type.Array(Type.String(), { maxItems: 64, description: 'Glob patterns on IdP group names.' })),
        ids: Type.Optional(Type.Array(Type.String(), { maxItems: 256, description: 'IdP group ids.' })),
      },
      {
        ...cel({ rule: 'has(self.names) || has(self.patterns) || has(self.ids)', message: 'groups needs names, patterns or ids' }),
        description: 'Which synced groups get a Policy from this rule: one Policy per matching Group.',
      },
    ),
    description: Type.Optional(Type.String({ maxLength: 1024, description: 'Copied to each Policy written for this rule.' })),
    // Fewer than a Policy's 256: the apiserver bounds the estimated CEL cost of a whole
    // DirectorySync (rules x resources x ports), and 64 x 32 x 64 stays inside it.
    resources: Type.Array(Resource, { minItems: 1, maxItems: 32, description: 'What members of the matching groups may reach.' }),
  },
  { description: 'A rule that declares Policies: each Group it matches gets one, owned by that Group.' },
);

export const PolicyStatus = Type.Object({
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(
    Type.Array(Condition, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] } as any),
  ),
  resolvedGroup: Type.Optional(Type.String({ description: 'The Group object this Policy grants access through; empty while the Policy is inert.' })),
  resolvedIdpId: Type.Optional(Type.String({ description: 'The IdP id of that group, so the Policy re-attaches when a group with this id returns.' })),
  directory: Type.Optional(Type.String({ description: 'The DirectorySync the Group comes from.' })),
  memberCount: Type.Optional(Type.Integer({ description: 'Active people who get access through this Policy (0 while inert).' })),
});

export const PolicyKind: KindDefinition = {
  kind: 'Policy',
  plural: 'policies',
  singular: 'policy',
  shortNames: ['idppolicy'],
  description: 'Grants the members of one Group access to network resources. Deleted with its Group.',
  spec: PolicySpec,
  status: PolicyStatus,
  printerColumns: [
    { name: 'Group', type: 'string', jsonPath: '.status.resolvedGroup' },
    { name: 'Members', type: 'integer', jsonPath: '.status.memberCount' },
    { name: 'Rule', type: 'string', jsonPath: '.metadata.labels.idpsync\\.io/policy-rule', priority: 1 },
    { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type==\"Ready\")].status" },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
