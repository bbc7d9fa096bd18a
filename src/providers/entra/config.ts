// The Entra provider block with its defaults applied, and the URLs derived from it.
import type { Static } from '@sinclair/typebox';
import type { EntraSettings } from '../../api/v1alpha1/directorysync.js';
import { StallError } from '../../errors.js';
import { checkUrlPolicy } from '../../util/http.js';

export type EntraSettingsInput = Partial<Static<typeof EntraSettings>>;

export const DEFAULT_LOGIN_URL = 'https://login.microsoftonline.com';
export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com';

export interface EntraConfig {
  tenantId: string;
  clientId: string;
  groups: 'All' | 'AssignedToApp';
  /** The application (client) id whose enterprise-app assignments count in AssignedToApp mode. */
  appId: string;
  delta: boolean;
  /** e.g. https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token */
  tokenEndpoint: string;
  /** Issuer of the tenant's v2.0 tokens; openid-client needs one to describe the server. */
  issuer: string;
  /** `{graph origin}/.default`: every application permission granted to the app. */
  scope: string;
  /** Graph origin, e.g. https://graph.microsoft.com (no trailing slash). */
  graphOrigin: string;
  /** Graph v1.0 root, e.g. https://graph.microsoft.com/v1.0 */
  graphBase: string;
  /** The token endpoint is plain HTTP on loopback (emulators only). */
  insecureLogin: boolean;
}

function required(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new StallError('InvalidConfiguration', `provider.entra.${name} is required`);
  }
  return value.trim();
}

function withoutTrailingSlash(url: URL): string {
  return url.href.replace(/\/+$/, '');
}

/** Applies the API defaults and checks the URLs against the URL policy. Throws StallError. */
export function resolveConfig(settings: EntraSettingsInput, allowInsecureLoopback?: boolean): EntraConfig {
  const tenantId = required(settings.tenantId, 'tenantId');
  const clientId = required(settings.clientId, 'clientId');
  const groups = settings.groups ?? 'All';
  if (groups !== 'All' && groups !== 'AssignedToApp') {
    throw new StallError('InvalidConfiguration', `provider.entra.groups must be All or AssignedToApp, not "${String(groups)}"`);
  }
  const login = checkUrlPolicy(settings.loginUrl ?? DEFAULT_LOGIN_URL, allowInsecureLoopback, 'provider.entra.loginUrl');
  const graph = checkUrlPolicy(settings.graphUrl ?? DEFAULT_GRAPH_URL, allowInsecureLoopback, 'provider.entra.graphUrl');
  const loginBase = withoutTrailingSlash(login);
  const graphRoot = withoutTrailingSlash(graph);
  const tenant = encodeURIComponent(tenantId);
  return {
    tenantId,
    clientId,
    groups,
    appId: settings.appId?.trim() || clientId,
    delta: settings.delta ?? true,
    tokenEndpoint: `${loginBase}/${tenant}/oauth2/v2.0/token`,
    issuer: `${loginBase}/${tenant}/v2.0`,
    scope: `${graph.origin}/.default`,
    graphOrigin: graph.origin,
    graphBase: `${graphRoot}/v1.0`,
    insecureLogin: login.protocol === 'http:',
  };
}
