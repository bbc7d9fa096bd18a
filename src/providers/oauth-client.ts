// The openid-client configuration every driver's token requests use: no discovery (each IdP's token
// endpoint is known), requests through the driver's own HTTP client (its CA bundle, proxy, call count
// and rate-limit gate), and plain HTTP only for a loopback token endpoint when the spec allows it.
import * as oidc from 'openid-client';
import type { IdpHttpClient } from './http.js';
import { isLoopbackUrl } from '../util/http.js';

export interface TokenEndpoint {
  issuer: string;
  tokenUrl: URL;
  allowInsecureLoopback?: boolean;
}

export function tokenClient(endpoint: TokenEndpoint, clientId: string, auth: oidc.ClientAuth, http: IdpHttpClient): oidc.Configuration {
  const config = new oidc.Configuration({ issuer: endpoint.issuer, token_endpoint: endpoint.tokenUrl.href }, clientId, {}, auth);
  config[oidc.customFetch] = http.fetch as unknown as oidc.CustomFetch;
  if (endpoint.allowInsecureLoopback && isLoopbackUrl(endpoint.tokenUrl)) oidc.allowInsecureRequests(config);
  return config;
}
