import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, importPKCS8, jwtVerify } from 'jose';
import { StallError } from '../../../src/errors.js';
import { parseServiceAccountKey, signAssertion } from '../../../src/providers/google/auth.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

const keyFile = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: 'service_account',
    project_id: 'p',
    private_key_id: 'kid-1',
    private_key: PEM,
    client_email: 'sync@p.iam.gserviceaccount.com',
    client_id: '1234',
    token_uri: 'https://oauth2.googleapis.com/token',
    ...overrides,
  });

describe('Google Workspace: service account key', () => {
  it('reads the fields of a JSON key file', () => {
    const key = parseServiceAccountKey(keyFile());
    expect(key).to.include({ client_email: 'sync@p.iam.gserviceaccount.com', private_key_id: 'kid-1', token_uri: 'https://oauth2.googleapis.com/token' });
  });

  it('explains a missing, non-JSON or incomplete key without echoing its contents', () => {
    const cases: [string | undefined, RegExp][] = [
      [undefined, /no "serviceAccountKey"/],
      ['-----BEGIN PRIVATE KEY-----\nabc', /not JSON/],
      ['"a string"', /JSON object/],
      [keyFile({ type: 'authorized_user' }), /"authorized_user" credential/],
      [keyFile({ private_key: undefined, client_email: '' }), /lacks client_email, private_key/],
    ];
    for (const [text, message] of cases) {
      let caught: unknown;
      try {
        parseServiceAccountKey(text);
      } catch (err) {
        caught = err;
      }
      expect(caught, String(text)).to.be.instanceOf(StallError).with.property('reason', 'InvalidConfiguration');
      expect((caught as Error).message).to.match(message);
      expect((caught as Error).message).to.not.include('BEGIN PRIVATE KEY');
    }
  });
});

describe('Google Workspace: delegation assertion', () => {
  it('is an RS256 JWT from the service account, for the admin, with the scopes, for the token URL, living an hour', async () => {
    const key = await importPKCS8(PEM, 'RS256');
    const iat = Math.floor(Date.now() / 1000);
    const jwt = await signAssertion(
      {
        serviceAccount: 'sync@p.iam.gserviceaccount.com',
        subject: 'admin@example.com',
        scopes: ['https://www.googleapis.com/auth/a', 'https://www.googleapis.com/auth/b'],
        audience: 'https://oauth2.googleapis.com/token',
        keyId: 'kid-1',
        issuedAt: iat,
      },
      key,
    );
    const { payload } = await jwtVerify(jwt, publicKey, { algorithms: ['RS256'], audience: 'https://oauth2.googleapis.com/token' });
    expect(payload).to.include({
      iss: 'sync@p.iam.gserviceaccount.com',
      sub: 'admin@example.com',
      scope: 'https://www.googleapis.com/auth/a https://www.googleapis.com/auth/b',
      iat,
      exp: iat + 3600,
    });
    expect(decodeProtectedHeader(jwt)).to.include({ alg: 'RS256', kid: 'kid-1' });
  });
});
