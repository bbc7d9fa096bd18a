// Object names must never change between releases: an existing object is found again by its name.
import { expect } from 'chai';
import { idHash, objectName, shortHash, slug, slugByExpressions } from '../../../src/directory/naming.js';
import { seededRandom } from '../../fixtures/generate-directory.js';

describe('object names', () => {
  it('stay exactly as they were, for ASCII and for accented names', () => {
    expect(objectName('corp', 'john@company.com', 'u1')).to.equal('corp-john-df569ec9');
    expect(objectName('corp', 'Zoë Ångström-Łukasz', 'g-42')).to.equal('corp-zoe-angstrom-ukasz-d85ff36e');
    expect(objectName('corp', 'Café\u0000Tab\tX', 'id')).to.equal('corp-cafe-tab-x-f4aa7cc5');
    expect(objectName('corp', '', 'x')).to.equal('corp-b3b8a7a5');
  });
  it('are the directory, the slug and the hash, cut to fit 253 characters, for any directory and text', () => {
    // The definition, spelled with strings; objectName assembles ASCII names in a buffer instead.
    const byDefinition = (directory: string, readable: string, idpId: string) => {
      const middle = slugByExpressions(readable);
      return `${`${directory}${middle ? `-${middle}` : ''}`.slice(0, 244)}-${shortHash(directory, idpId)}`;
    };
    const random = seededRandom(11);
    const pick = (alphabet: string, length: number) => Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    for (let n = 0; n < 3000; n++) {
      const directoryLength = random() < 0.2 ? 200 + Math.floor(random() * 60) : 1 + Math.floor(random() * 30);
      const directory = pick(random() < 0.05 ? 'ab-.é' : 'abc09-.', directoryLength);
      const readable = pick(random() < 0.1 ? 'aZ9 .@\nÅé' : 'aZ9-_.@ +!x', Math.floor(random() * 70));
      const idpId = pick('0123456789abcdef', 1 + Math.floor(random() * 20));
      const name = objectName(directory, readable, idpId);
      expect(name, JSON.stringify([directory, readable])).to.equal(byDefinition(directory, readable, idpId));
      expect(name.length).to.be.at.most(253);
    }
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

  it('leaves to the expressions a text with a line break after its "@", which they do not cut there', () => {
    expect(slug('ada@example\ncom')).to.equal(slugByExpressions('ada@example\ncom'));
    expect(slug('ada@example\ncom')).to.equal('ada-example-com');
  });
});
