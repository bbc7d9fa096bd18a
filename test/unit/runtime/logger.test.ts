import { expect } from 'chai';
import { Writable } from 'node:stream';
import winston from 'winston';
import {
  REDACTED,
  clearRegisteredSecrets,
  createLogger,
  isSecretKey,
  redactString,
  redactValue,
  registerSecret,
} from '../../../src/runtime/logger.js';

function capturingLogger(level = 'debug') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const log = createLogger({ level, transports: [new winston.transports.Stream({ stream })] });
  const output = () => lines.join('');
  const entries = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, output, entries };
}

describe('runtime/logger', () => {
  afterEach(() => clearRegisteredSecrets());

  it('writes one JSON object per entry with level, message, timestamp and fields', () => {
    const { log, entries } = capturingLogger();
    log.info('synced', { namespace: 'team-a', directory: 'okta', users: 3 });
    const [entry] = entries();
    expect(entry).to.include({ level: 'info', message: 'synced', namespace: 'team-a', directory: 'okta', users: 3 });
    expect(entry.timestamp).to.be.a('string');
  });

  it('honours the level', () => {
    const { log, entries } = capturingLogger('warn');
    log.info('hidden');
    log.warn('shown');
    expect(entries().map((e) => e.message)).to.deep.equal(['shown']);
  });

  describe('secret-looking keys', () => {
    for (const key of [
      'password',
      'clientSecret',
      'client_secret',
      'CLIENT-SECRET',
      'token',
      'accessToken',
      'privateKey',
      'private_key',
      'apiKey',
      'Authorization',
      'assertion',
      'client_assertion',
      'credentials',
    ]) {
      it(`redacts "${key}"`, () => expect(isSecretKey(key)).to.equal(true));
    }
    for (const key of ['secretRef', 'secretName', 'tokenUrl', 'namespace', 'users', 'message', 'tokenType']) {
      it(`keeps "${key}"`, () => expect(isSecretKey(key)).to.equal(false));
    }

    it('redacts them at any depth, in arrays too', () => {
      const { log, output } = capturingLogger();
      log.info('request', {
        headers: { Authorization: 'SSWS 00abcdefghijkl', accept: 'application/json' },
        steps: [{ form: { client_secret: 's3cr3t-value-1', grant_type: 'client_credentials' } }],
      });
      const out = output();
      expect(out).not.to.include('00abcdefghijkl');
      expect(out).not.to.include('s3cr3t-value-1');
      expect(out).to.include('client_credentials');
      expect(out).to.include(REDACTED);
    });
  });

  describe('registered secrets', () => {
    const secret = 'hunter2-but-longer-XYZ';

    it('never reach the output: message, fields, nested values, errors, stacks and causes', () => {
      registerSecret(secret);
      const { log, output } = capturingLogger();
      log.info(`calling with ${secret} inline`);
      log.info('fields', { note: `value=${secret}`, list: [`a ${secret} b`], deep: { a: { b: { c: secret } } } });
      log.error(new Error(`login failed for ${secret}`));
      log.error('wrapped', new Error(`boom ${secret}`));
      log.warn('nested error', { err: new Error(`inner ${secret}`, { cause: new Error(`cause ${secret}`) }) });
      const out = output();
      expect(out).not.to.include(secret);
      expect(out.split(REDACTED).length - 1).to.be.at.least(8);
    });

    it('keeps the surrounding text', () => {
      registerSecret(secret);
      expect(redactString(`before ${secret} after`)).to.equal(`before ${REDACTED} after`);
    });

    it('registers each line of a multi-line value', () => {
      const line = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7';
      registerSecret(`first-line-of-key\n${line}\nlast-line-of-key`);
      expect(redactString(`parse error near ${line}`)).to.equal(`parse error near ${REDACTED}`);
    });

    it('ignores values too short to be secrets', () => {
      registerSecret('true');
      registerSecret('');
      expect(redactString('it is true')).to.equal('it is true');
    });
  });

  describe('credential-shaped strings', () => {
    it('redacts bearer/SSWS headers, JWTs and PEM private keys without registration', () => {
      const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl';
      const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----';
      const text = `auth=Bearer abcdefghijklmnop jwt=${jwt} key=${pem} ok`;
      const out = redactString(text);
      expect(out).not.to.include('abcdefghijklmnop');
      expect(out).not.to.include(jwt);
      expect(out).not.to.include('MIIEvQIBADANBg');
      expect(out).to.match(/ ok$/);
    });
  });

  describe('redactValue', () => {
    it('does not modify its input and survives cycles', () => {
      registerSecret('abcdef-secret');
      const input: Record<string, unknown> = { a: 'x abcdef-secret', password: 'p' };
      input.self = input;
      const out = redactValue(input) as Record<string, unknown>;
      expect(input.a).to.equal('x abcdef-secret');
      expect(out.a).to.equal(`x ${REDACTED}`);
      expect(out.password).to.equal(REDACTED);
      expect(out.self).to.equal('[Circular]');
    });
  });
});
