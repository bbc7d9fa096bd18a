// /ServiceProviderConfig, /ResourceTypes and /Schemas (RFC 7643 §5–7): only what this server implements.
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, type Json } from './attributes.js';

export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const MAX_RESULTS = 1000;

export function serviceProviderConfig(baseUrl: string): Json {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: 'https://github.com/idpsync/idpsync/blob/main/docs/providers/scim.md',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      { type: 'oauthbearertoken', name: 'Bearer token', description: 'The token in the Secret <name>-scim-token, key "token".', primary: true },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

export function resourceTypes(baseUrl: string): Json[] {
  return [
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/User` },
    },
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      schema: GROUP_SCHEMA,
      schemaExtensions: [],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/Group` },
    },
  ];
}

interface AttrOptions {
  type?: string;
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: string;
  returned?: string;
  uniqueness?: string;
  subAttributes?: Json[];
  referenceTypes?: string[];
}

function attr(name: string, description: string, o: AttrOptions = {}): Json {
  return {
    name,
    type: o.type ?? 'string',
    multiValued: o.multiValued ?? false,
    description,
    required: o.required ?? false,
    caseExact: o.caseExact ?? false,
    mutability: o.mutability ?? 'readWrite',
    returned: o.returned ?? 'default',
    uniqueness: o.uniqueness ?? 'none',
    ...(o.subAttributes ? { subAttributes: o.subAttributes } : {}),
    ...(o.referenceTypes ? { referenceTypes: o.referenceTypes } : {}),
  };
}

const multi = (name: string, description: string) =>
  attr(name, description, {
    type: 'complex',
    multiValued: true,
    subAttributes: [attr('value', 'The value.'), attr('display', 'For humans.'), attr('type', 'A label such as "work".'), attr('primary', 'The primary one.', { type: 'boolean' })],
  });

export function schemas(baseUrl: string): Json[] {
  const meta = (id: string) => ({ resourceType: 'Schema', location: `${baseUrl}/Schemas/${id}` });
  return [
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
      id: USER_SCHEMA,
      name: 'User',
      description: 'A person; userName becomes the User login, active=false suspends it.',
      attributes: [
        attr('userName', 'Unique sign-in name (compared ignoring case).', { required: true, uniqueness: 'server' }),
        attr('externalId', 'The client\'s id for the user.', { caseExact: true }),
        attr('name', 'The components of the name.', {
          type: 'complex',
          subAttributes: ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map((n) => attr(n, n)),
        }),
        ...['displayName', 'nickName', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone'].map((n) => attr(n, n)),
        attr('active', 'false suspends the user and revokes their group access.', { type: 'boolean' }),
        multi('emails', 'Email addresses; the primary one becomes the User email.'),
        multi('phoneNumbers', 'Phone numbers.'),
        multi('roles', 'Roles (stored, not used).'),
      ],
      meta: meta(USER_SCHEMA),
    },
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
      id: GROUP_SCHEMA,
      name: 'Group',
      description: 'A group; members may be users or groups (nested groups are flattened).',
      attributes: [
        attr('displayName', 'The group name.', { required: true }),
        attr('externalId', 'The client\'s id for the group.', { caseExact: true }),
        attr('members', 'Users and groups in this group.', {
          type: 'complex',
          multiValued: true,
          subAttributes: [
            attr('value', 'id of a User or Group.', { caseExact: true, mutability: 'immutable' }),
            attr('display', 'For humans.', { mutability: 'immutable' }),
            attr('type', '"User" or "Group".', { mutability: 'immutable' }),
          ],
        }),
      ],
      meta: meta(GROUP_SCHEMA),
    },
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
      id: ENTERPRISE_USER_SCHEMA,
      name: 'EnterpriseUser',
      description: 'Enterprise User: stored as sent.',
      attributes: [
        ...['employeeNumber', 'costCenter', 'organization', 'division', 'department'].map((n) => attr(n, n)),
        attr('manager', 'The user\'s manager.', { type: 'complex', subAttributes: [attr('value', 'id of the manager.'), attr('displayName', 'Name.', { mutability: 'readOnly' })] }),
      ],
      meta: meta(ENTERPRISE_USER_SCHEMA),
    },
  ];
}

export function listResponse(resources: Json[], total: number, startIndex: number): Json {
  return { schemas: [LIST_SCHEMA], totalResults: total, itemsPerPage: resources.length, startIndex, Resources: resources };
}
