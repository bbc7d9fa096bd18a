import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { signatureHeaders, signingKey, verifySignature } from '../../../src/notify/signing.js';

const SECRET = 'a-shared-signing-secret';
const WHSEC = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
const NOW = 1_750_000_000;
const BODY = '{"specversion":"1.0","id":"evt-1","type":"io.idpsync.user.suspended"}';

describe('notify/signing', () => {
  it('signs id.timestamp.body with HMAC-SHA256 as "v1,<base64>" (Standard Webhooks)', () => {
    const headers = signatureHeaders(SECRET, 'evt-1', NOW, BODY);
    const expected = createHmac('sha256', SECRET).update(`evt-1.${NOW}.${BODY}`).digest('base64');
    expect(headers).to.deep.equal({ 'webhook-id': 'evt-1', 'webhook-timestamp': String(NOW), 'webhook-signature': `v1,${expected}` });
  });

  it('decodes a whsec_ secret to its key bytes', () => {
    expect(signingKey(WHSEC).toString('utf8')).to.equal('0123456789abcdef0123456789abcdef');
    const headers = signatureHeaders(WHSEC, 'evt-1', NOW, BODY);
    const expected = createHmac('sha256', '0123456789abcdef0123456789abcdef').update(`evt-1.${NOW}.${BODY}`).digest('base64');
    expect(headers['webhook-signature']).to.equal(`v1,${expected}`);
  });

  it('refuses an empty key and a whsec_ secret that is not base64', () => {
    expect(() => signingKey('')).to.throw(/empty/);
    expect(() => signingKey('whsec_')).to.throw(/empty/);
    expect(() => signingKey(`${WHSEC}x`)).to.throw(/not base64/);
    expect(() => signingKey('whsec_abc$def')).to.throw(/not base64/);
    expect(signingKey(WHSEC.replace(/=+$/, '')).equals(signingKey(WHSEC))).to.equal(true);
  });

  for (const secret of [SECRET, WHSEC]) {
    describe(`with a ${secret.startsWith('whsec_') ? 'whsec_' : 'raw'} secret`, () => {
      const headers = signatureHeaders(secret, 'evt-1', NOW, BODY);

      it('verifies its own signature', () => {
        expect(verifySignature(secret, headers, BODY, { nowSeconds: NOW })).to.equal(true);
      });

      it('rejects a changed body, id or timestamp', () => {
        expect(verifySignature(secret, headers, BODY.replace('suspended', 'deleted'), { nowSeconds: NOW })).to.equal(false);
        expect(verifySignature(secret, { ...headers, 'webhook-id': 'evt-2' }, BODY, { nowSeconds: NOW })).to.equal(false);
        expect(verifySignature(secret, { ...headers, 'webhook-timestamp': String(NOW + 1) }, BODY, { nowSeconds: NOW })).to.equal(false);
      });

      it('rejects another secret', () => {
        expect(verifySignature(`${secret}0`, headers, BODY, { nowSeconds: NOW })).to.equal(false);
        expect(verifySignature(secret === SECRET ? WHSEC : SECRET, headers, BODY, { nowSeconds: NOW })).to.equal(false);
      });
    });
  }

  it('treats a whsec_ secret and its raw string as different keys', () => {
    const headers = signatureHeaders(WHSEC, 'evt-1', NOW, BODY);
    expect(verifySignature(WHSEC.slice('whsec_'.length), headers, BODY, { nowSeconds: NOW })).to.equal(false);
  });

  it('accepts a timestamp within the tolerance window on either side, and nothing outside it', () => {
    const headers = signatureHeaders(SECRET, 'evt-1', NOW, BODY);
    expect(verifySignature(SECRET, headers, BODY, { nowSeconds: NOW + 300 })).to.equal(true);
    expect(verifySignature(SECRET, headers, BODY, { nowSeconds: NOW - 300 })).to.equal(true);
    expect(verifySignature(SECRET, headers, BODY, { nowSeconds: NOW + 301 })).to.equal(false);
    expect(verifySignature(SECRET, headers, BODY, { nowSeconds: NOW - 301 })).to.equal(false);
    expect(verifySignature(SECRET, headers, BODY, { nowSeconds: NOW + 30, toleranceSeconds: 10 })).to.equal(false);
    expect(verifySignature(SECRET, headers, BODY, { nowSeconds: NOW + 30, toleranceSeconds: 60 })).to.equal(true);
  });

  it('checks the current time by default', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(verifySignature(SECRET, signatureHeaders(SECRET, 'e', now, BODY), BODY)).to.equal(true);
    expect(verifySignature(SECRET, signatureHeaders(SECRET, 'e', now - 3600, BODY), BODY)).to.equal(false);
  });

  it('accepts any of several space-separated signatures and ignores other versions', () => {
    const good = signatureHeaders(SECRET, 'evt-1', NOW, BODY)['webhook-signature'];
    const other = signatureHeaders('old-secret-value', 'evt-1', NOW, BODY)['webhook-signature'];
    const base = { 'webhook-id': 'evt-1', 'webhook-timestamp': String(NOW) };
    expect(verifySignature(SECRET, { ...base, 'webhook-signature': `${other} ${good}` }, BODY, { nowSeconds: NOW })).to.equal(true);
    expect(verifySignature(SECRET, { ...base, 'webhook-signature': `${good} ${other}` }, BODY, { nowSeconds: NOW })).to.equal(true);
    expect(verifySignature(SECRET, { ...base, 'webhook-signature': other }, BODY, { nowSeconds: NOW })).to.equal(false);
    expect(verifySignature(SECRET, { ...base, 'webhook-signature': good.replace('v1,', 'v1a,') }, BODY, { nowSeconds: NOW })).to.equal(false);
  });

  it('rejects missing or malformed headers, and reads header names case-insensitively', () => {
    const headers = signatureHeaders(SECRET, 'evt-1', NOW, BODY);
    for (const name of Object.keys(headers)) {
      const without = { ...headers, [name]: undefined };
      expect(verifySignature(SECRET, without, BODY, { nowSeconds: NOW }), name).to.equal(false);
    }
    expect(verifySignature(SECRET, { ...headers, 'webhook-timestamp': `${NOW}.0` }, BODY, { nowSeconds: NOW })).to.equal(false);
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifySignature(SECRET, upper, BODY, { nowSeconds: NOW })).to.equal(true);
  });
});
