// The SCIM server under attack: thousands of malformed and adversarial requests (filters, PATCH paths,
// huge and deeply nested bodies, wrong content types, guessed tokens, paths outside the directory)
// against `idpsync run --scim-bind-address` as its own process. Every refusal is a 4xx with a SCIM
// error body, nothing answers 5xx, the process stays up, and nothing the directory holds changes.
// Token checks take the same time whatever the guess: measured on the comparison and over HTTP.
import { expect } from 'chai';
import { freePort } from '../controlplane/net.js';
import { tokenMatches } from '../../src/scim/tokens.js';
import { ERROR_SCHEMA } from '../../src/scim/errors.js';
import { newNamespace, operatorKubeconfigPath, waitFor } from '../e2e/harness/index.js';
import { admin, waitForCondition } from '../e2e/support/operator.js';
import { runOperator, type OperatorProcess } from './support/operator-process.js';
import { specsByName, written } from './support/objects.js';
import { seedFromEnv, seededRandom } from './support/random.js';
import { envNumber, report } from './support/report.js';

const FILE = 'scim-attack.e2e.ts';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

interface Attack {
  category: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** A read may succeed (a valid but odd filter); anything else must be refused. */
  read?: boolean;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

function nested(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

describe('SCIM under attack', function () {
  this.timeout(10 * 60_000);
  const rounds = envNumber('RELIABILITY_SCIM_ROUNDS', 20, 3);
  const seed = seedFromEnv('scim-attack');
  const random = seededRandom(seed);
  let op: OperatorProcess;
  let ns: string;
  let base: string;
  let token: string;
  const ids: { user: string; group: string } = { user: '', group: '' };

  const send = async (a: Attack, auth = `Bearer ${token}`) => {
    const headers: Record<string, string> = { 'content-type': 'application/scim+json', ...(auth ? { authorization: auth } : {}), ...a.headers };
    for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
    const res = await fetch(base + a.path, { method: a.method, headers, body: a.body });
    const text = await res.text();
    let parsed: { schemas?: string[]; status?: string } | undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, scimError: !!parsed?.schemas?.includes(ERROR_SCHEMA) && parsed.status === String(res.status), text };
  };

  before(async () => {
    ns = await newNamespace('scim-attack');
    const port = await freePort();
    op = await runOperator({ kubeconfig: await operatorKubeconfigPath(), namespace: ns, extraArgs: ['--scim-bind-address', `127.0.0.1:${port}`, '--scim-insecure-http'] });
    await admin().apply('DirectorySync', {
      metadata: { name: 'corp', namespace: ns },
      spec: { provider: { type: 'scim', scim: {} }, credentialsRef: { name: 'corp-scim-token' }, interval: '1h' },
    });
    const secret = await waitFor(() => admin().getSecret(ns, 'corp-scim-token'), { timeoutMs: 60_000, intervalMs: 200, what: 'the generated SCIM token Secret' });
    token = Buffer.from(secret.data!.token, 'base64').toString('utf8');
    base = `http://127.0.0.1:${port}/scim/v2/${ns}/corp`;
    await waitForCondition(ns, 'corp', 'Ready', 'True', 90_000);
    const json = (method: string, path: string, body: unknown) => send({ category: 'setup', method, path, body: JSON.stringify(body) });
    const user = await json('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'ada@example.com', active: true, emails: [{ value: 'ada@example.com', primary: true }] });
    expect(user.status, user.text).to.equal(201);
    ids.user = JSON.parse(user.text).id;
    const group = await json('POST', '/Groups', { displayName: 'Engineering', members: [{ value: ids.user }] });
    expect(group.status, group.text).to.equal(201);
    ids.group = JSON.parse(group.text).id;
    await waitFor(async () => (await written(ns)).groups.some((g) => g.spec.members.length === 1), { timeoutMs: 30_000, what: 'the pushed user and group written' });
  });

  after(async () => {
    await op?.kill('SIGKILL');
  });

  function attacks(): Attack[] {
    const list: Attack[] = [];
    const filters = [
      '(((((((((((((((((((((((((((((((((((((((((((((((((((userName eq "a")))))))))))))))))))))))))))))))))))))))))))))))))',
      '('.repeat(5000) + 'userName eq "a"' + ')'.repeat(5000),
      'userName eq',
      'userName eq "unterminated',
      'userName xx "a"',
      'userName eq "a" or',
      'and and and',
      'userName eq "a" or 1 eq 1',
      'emails[type eq "work" and value co "@"',
      'emails[[[[[value eq "a"]]]]]',
      'name.givenName.x.y.z eq "a"',
      '__proto__ eq "x"',
      'constructor.prototype eq "x"',
      'userName eq "\u0000\u0007"',
      'userName eq "' + 'x'.repeat(100_000) + '"',
      'meta.lastModified gt "not a date"',
      'userName pr and not (',
      'not(not(not(not(userName pr))))',
      '"',
      '\\',
      '%',
    ];
    for (const f of filters) {
      list.push({ category: 'filters', method: 'GET', path: '/Users?filter=' + encodeURIComponent(f), read: true });
      list.push({ category: 'filters', method: 'GET', path: '/Groups?filter=' + encodeURIComponent(f), read: true });
    }
    list.push({ category: 'filters', method: 'GET', path: '/Users?startIndex=-5&count=99999999999', read: true });
    list.push({ category: 'filters', method: 'GET', path: '/Users?count=abc&startIndex=%00', read: true });
    list.push({ category: 'filters', method: 'GET', path: '/Users?attributes=' + 'a,'.repeat(5000), read: true });

    const paths = [
      '__proto__.polluted', 'constructor.prototype.polluted', 'members[value eq', 'members[value eq "x"]]', 'emails[type eq "work"].value.extra',
      'name..givenName', '.', '', 'urn:ietf:params:scim:schemas:core:2.0:User:', 'members[' + 'x'.repeat(10000) + ']', 'active[value eq true]', 'id', 'meta.created',
    ];
    const ops = ['add', 'remove', 'replace', 'copy', 'move', 'test', '', 'ADD ', 'Remove\u0000'];
    for (const target of [`/Users/${'USER'}`, `/Groups/${'GROUP'}`]) {
      for (const p of paths) {
        for (const o of ['add', 'replace', 'remove']) {
          list.push({ category: 'PATCH paths', method: 'PATCH', path: target, body: JSON.stringify({ schemas: [PATCH], Operations: [{ op: o, path: p, value: { polluted: true } }] }) });
        }
      }
      for (const o of ops.slice(3)) list.push({ category: 'PATCH paths', method: 'PATCH', path: target, body: JSON.stringify({ schemas: [PATCH], Operations: [{ op: o, path: 'displayName', value: 'x' }] }) });
      list.push({ category: 'PATCH paths', method: 'PATCH', path: target, body: JSON.stringify({ schemas: [PATCH], Operations: 'not a list' }) });
      list.push({ category: 'PATCH paths', method: 'PATCH', path: target, body: JSON.stringify({ schemas: [PATCH], Operations: [null, 1, 'x'] }) });
      list.push({ category: 'PATCH paths', method: 'PATCH', path: target, body: JSON.stringify({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: 'maybe' }] }) });
      list.push({ category: 'PATCH paths', method: 'PATCH', path: target, body: JSON.stringify({ schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: '../../other' }, { value: { $ne: null } }] }] }) });
    }
    const huge = JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'x'.repeat(20 * 1024 * 1024) });
    const bodies: [string, string][] = [
      ['deeply nested object', nested(100_000)],
      ['deeply nested array', '['.repeat(100_000) + ']'.repeat(100_000)],
      ['20 MB userName', huge],
      ['truncated JSON', '{"userName": "a'],
      ['not JSON', 'userName=a&active=true'],
      ['JSON null', 'null'],
      ['JSON array', '[]'],
      ['JSON string', '"a"'],
      ['userName an object', JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: { $gt: '' } })],
      ['no userName', JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], active: true })],
      ['__proto__ key', '{"__proto__": {"polluted": true}, "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}'],
      ['members not a list', JSON.stringify({ displayName: 'x', members: 'everyone' })],
    ];
    for (const [what, body] of bodies) {
      list.push({ category: 'bodies', method: 'POST', path: '/Users', body, headers: { 'x-what': what } });
      list.push({ category: 'bodies', method: 'POST', path: '/Groups', body, headers: { 'x-what': what } });
      list.push({ category: 'bodies', method: 'PUT', path: `/Users/USER`, body, headers: { 'x-what': what } });
    }
    const valid = JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'intruder@example.com', active: true });
    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '', 'application/scim+json; charset=utf-16']) {
      list.push({ category: 'content types', method: 'POST', path: '/Users', body: type.includes('utf-16') ? Buffer.from(valid, 'utf16le').toString('latin1') : '<user>x</user>', headers: { 'content-type': type } });
    }
    for (const [method, path] of [
      ['DELETE', '/Users'], ['PUT', '/Groups'], ['PATCH', '/Users'], ['OPTIONS', '/Users'], ['GET', '/Users/../../../../etc/passwd'], ['GET', '/Users/%2e%2e%2f%2e%2e'],
      ['DELETE', '/Users/no-such-id'], ['GET', '/Bulk'], ['POST', '/Bulk'], ['GET', '/Users/' + 'x'.repeat(10000)], ['POST', '/.search'],
    ]) {
      list.push({ category: 'methods and paths', method, path, body: method === 'GET' || method === 'DELETE' || method === 'TRACE' ? undefined : '{}', read: false });
    }
    return list.map((a) => ({ ...a, path: a.path.replace('USER', ids.user).replace('GROUP', ids.group) }));
  }

  it('answers every malformed or adversarial request with a 4xx SCIM error, changes nothing and stays up', async () => {
    const before = specsByName(await written(ns));
    const stats = new Map<string, { sent: number; fiveXX: number; accepted: number; notScim: number; noop: number }>();
    const problems: string[] = [];
    const one = attacks();
    for (let round = 0; round < rounds; round++) {
      for (const a of one) {
        const s = stats.get(a.category) ?? { sent: 0, fiveXX: 0, accepted: 0, notScim: 0, noop: 0 };
        stats.set(a.category, s);
        s.sent++;
        const r = await send(a).catch((err: Error) => ({ status: 0, scimError: false, text: err.message }));
        if (r.status === 0 || r.status >= 500) {
          s.fiveXX++;
          problems.push(`${a.category} ${a.method} ${a.path.slice(0, 80)} ${a.headers?.['x-what'] ?? ''}: ${r.status} ${r.text.slice(0, 200)}`);
        } else if (r.status < 400 && a.category === 'PATCH paths') {
          // The server ignores what it does not know (as lenient SCIM servers do): allowed, as long as nothing changes.
          s.noop++;
        } else if (r.status < 400 && !a.read) {
          s.accepted++;
          problems.push(`${a.category} ${a.method} ${a.path.slice(0, 80)} ${a.headers?.['x-what'] ?? ''} ${(a.body ?? '').slice(0, 160)}: accepted with ${r.status}`);
        } else if (r.status >= 400 && !r.scimError) {
          s.notScim++;
          problems.push(`${a.category} ${a.method} ${a.path.slice(0, 80)} ${a.headers?.['x-what'] ?? ''}: ${r.status} without a SCIM error body: ${r.text.slice(0, 120)}`);
        }
      }
    }

    // Guessed tokens: none gets in, whatever its shape.
    const guesses = ['', 'Bearer ', 'Bearer x', `Bearer ${token.slice(0, -1)}`, `Bearer ${token}x`, `Bearer ${token.toUpperCase()}`, `Basic ${Buffer.from('admin:' + token).toString('base64')}`, `bearer  ${token} extra`, `Bearer ${'a'.repeat(100_000)}`];
    for (let i = 0; i < 40 * rounds; i++) guesses.push(`Bearer ${Buffer.from(Array.from({ length: 32 }, () => Math.floor(random() * 256))).toString('base64url')}`);
    let guessAccepted = 0;
    let guessBad = 0;
    for (const g of guesses) {
      const r = await send({ category: 'tokens', method: 'GET', path: '/Users' }, g).catch(() => ({ status: 0, scimError: false, text: '' }));
      if (r.status < 400 || r.status >= 500) guessAccepted++;
      else if (!r.scimError) guessBad++;
    }

    // Timing: the comparison itself, and over HTTP, for a guess sharing the real token's first half vs a random one.
    const prefixGuess = token.slice(0, token.length >> 1) + 'x'.repeat(token.length - (token.length >> 1));
    // Made of the token's own characters: a guess with non-ASCII characters takes longer to encode before
    // hashing, a difference of the guess's alphabet, not of how much of the token it matches.
    const alphabet = [...new Set(token)];
    const randomGuess = Array.from({ length: token.length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    // Interleaved batches, medians of batches: a loaded machine's noise hits both guesses alike.
    const batch = (guess: string, n: number) => {
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) tokenMatches(guess, [token]);
      return Number(process.hrtime.bigint() - t) / n;
    };
    const cmpPrefix: number[] = [];
    const cmpRandom: number[] = [];
    batch(randomGuess, 2000);
    for (let k = 0; k < 41; k++) {
      cmpPrefix.push(batch(prefixGuess, 500));
      cmpRandom.push(batch(randomGuess, 500));
    }
    const nsPrefix = median(cmpPrefix);
    const nsRandom = median(cmpRandom);
    const httpTimes: Record<string, number[]> = { prefix: [], random: [] };
    for (let i = 0; i < 30 * Math.max(1, rounds / 4); i++) {
      for (const [label, guess] of [['prefix', prefixGuess], ['random', randomGuess]] as const) {
        const t = performance.now();
        await send({ category: 'tokens', method: 'GET', path: '/Users' }, `Bearer ${guess}`);
        httpTimes[label].push(performance.now() - t);
      }
    }
    const httpPrefix = median(httpTimes.prefix);
    const httpRandom = median(httpTimes.random);

    const after = specsByName(await written(ns));
    const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    const list = await send({ category: 'check', method: 'GET', path: '/Users' });
    const total = [...stats.values()].reduce((x, s) => x + s.sent, 0) + guesses.length;
    for (const [category, s] of stats) console.log(`    ${category}: ${s.sent} sent, ${s.fiveXX} 5xx, ${s.accepted} accepted, ${s.noop} ignored (2xx, no change), ${s.notScim} without SCIM error body`);
    if (problems.length) console.log(`    problems (first 40):\n      ${[...new Set(problems)].slice(0, 40).join('\n      ')}`);
    report('SCIM under attack', {
      seed,
      requests: total,
      '5xx or dropped': [...stats.values()].reduce((x, s) => x + s.fiveXX, 0),
      'refusals without a SCIM error body': [...stats.values()].reduce((x, s) => x + s.notScim, 0) + guessBad,
      'malformed writes accepted': [...stats.values()].reduce((x, s) => x + s.accepted, 0),
      'PATCHes of unknown or read-only paths ignored (2xx, no change)': [...stats.values()].reduce((x, s) => x + s.noop, 0),
      'guessed tokens accepted': guessAccepted,
      'objects changed': changed.length,
      'token check ns (half-right guess / random guess)': `${nsPrefix.toFixed(0)} / ${nsRandom.toFixed(0)}`,
      'HTTP 401 median ms (half-right / random)': `${httpPrefix.toFixed(2)} / ${httpRandom.toFixed(2)}`,
      'operator restarts': op.alive() ? 0 : 1,
    }, FILE);
    expect(op.alive(), 'the operator process is still running').to.equal(true);
    expect(list.status, 'the SCIM server still answers').to.equal(200);
    expect(changed, 'objects changed by the attack').to.deep.equal([]);
    expect(guessAccepted, 'guessed tokens let in (or 5xx)').to.equal(0);
    expect([...new Set(problems)], 'requests not answered with a 4xx SCIM error').to.deep.equal([]);
    // Hashing both sides before timingSafeEqual: any difference is noise, not the length of the match.
    expect(Math.abs(nsPrefix - nsRandom) / Math.max(nsPrefix, nsRandom), 'relative timing difference of the comparison').to.be.lessThan(0.5);
  });
});
