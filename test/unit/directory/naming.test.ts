// Object names must never change between releases: an existing object is found again by its name.
import { expect } from 'chai';
import { idHash, objectName, slug, slugByExpressions } from '../../../src/directory/naming.js';
import { seededRandom } from '../../fixtures/generate-directory.js';

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

describe('slug', () => {
  it('makes of printable ASCII what the regular expressions make of it', () => {
    const random = seededRandom(7);
    const alphabet = 'aZ9-_.@ +!x';
    for (let n = 0; n < 5000; n++) {
      const length = Math.floor(random() * 60);
      let text = '';
      for (let i = 0; i < length; i++) text += random() < 0.5 ? alphabet[Math.floor(random() * alphabet.length)] : String.fromCharCode(0x20 + Math.floor(random() * 95));
      expect(slug(text), JSON.stringify(text)).to.equal(slugByExpressions(text));
    }
  });

  it('cuts at 40 characters without leaving a dash at the end', () => {
    expect(slug(`${'a'.repeat(39)}-b`)).to.equal('a'.repeat(39));
    expect(slug(`${'a'.repeat(39)}.b`)).to.equal('a'.repeat(39));
    expect(slug('--Ada.Lovelace--@example.com')).to.equal('ada-lovelace');
    expect(slug('a@b@c')).to.equal('a');
    expect(slug('@x')).to.equal('');
  });
});
