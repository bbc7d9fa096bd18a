import { expect } from 'chai';
import { GoogleWorkspaceSettings, JumpCloudSettings, PROVIDER_TYPES } from '../../../src/api/v1alpha1/directorysync.js';
import { StallError } from '../../../src/errors.js';
import { checkSettings, DRIVERS } from '../../../src/providers/registry.js';

describe('provider registry', () => {
  it('has a driver for every provider type of the API', () => {
    expect(Object.keys(DRIVERS).sort()).to.deep.equal([...PROVIDER_TYPES].sort());
  });

  it('applies the API defaults before a driver sees the settings', () => {
    expect(checkSettings('googleWorkspace', GoogleWorkspaceSettings, { impersonate: 'admin@example.com' })).to.include({ customer: 'my_customer' });
    expect(checkSettings('jumpcloud', JumpCloudSettings, {})).to.include({ region: 'US' });
  });

  it('stalls naming the field a provider block gets wrong', () => {
    expect(() => checkSettings('jumpcloud', JumpCloudSettings, { region: 'APAC' })).to.throw(StallError, /spec\.provider\.jumpcloud\.region/);
    expect(() => checkSettings('googleWorkspace', GoogleWorkspaceSettings, undefined)).to.throw(StallError, /impersonate/);
  });
});
