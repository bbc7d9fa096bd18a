// Object names must never change between releases: an existing object is found again by its name.
import { expect } from 'chai';
import { idHash, objectName } from '../../../src/directory/naming.js';

describe('object names', () => {
  it('stay exactly as they were, for ASCII and for accented names', () => {
    expect(objectName('corp', 'john@company.com', 'u1')).to.equal('corp-john-df569ec9');
    expect(objectName('corp', 'Zoë Ångström-Łukasz', 'g-42')).to.equal('corp-zoe-angstrom-ukasz-d85ff36e');
    expect(objectName('corp', 'Café\u0000Tab\tX', 'id')).to.equal('corp-cafe-tab-x-f4aa7cc5');
    expect(objectName('corp', '', 'x')).to.equal('corp-b3b8a7a5');
  });
  it('hash an IdP id to 40 hex characters', () => {
    expect(idHash('00g1')).to.match(/^[0-9a-f]{40}$/);
    expect(idHash('00g1')).to.equal(idHash('00g1'));
    expect(idHash('00g1')).not.to.equal(idHash('00g2'));
  });
});
