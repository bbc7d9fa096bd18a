import { expect } from 'chai';
import { StallError } from '../../../src/errors.js';
import { requireSettings } from '../../../src/providers/context.js';
import { createKeycloakDriver } from '../../../src/providers/keycloak/driver.js';

describe('providers/requireSettings', () => {
  it('stalls naming the first missing or empty field, and passes when all are set', () => {
    expect(() => requireSettings('keycloak', { baseUrl: 'https://kc', realm: '' }, ['baseUrl', 'realm'])).to.throw(StallError, 'spec.provider.keycloak.realm is required');
    expect(() => requireSettings<{ domain: string }>('auth0', undefined, ['domain'])).to.throw(StallError, 'spec.provider.auth0.domain is required');
    expect(() => requireSettings('zitadel', { baseUrl: 'https://z', projectId: 'p' }, ['baseUrl', 'projectId'])).not.to.throw();
  });

  it('is what a driver built without a required field says', () => {
    const ctx = { settings: { baseUrl: 'https://kc.example.com', realm: 'corp' }, credentials: { clientSecret: 's' }, allowInsecureLoopback: false, now: Date.now };
    expect(() => createKeycloakDriver(ctx as never)).to.throw(StallError, 'spec.provider.keycloak.clientId is required');
  });
});
