// What a SCIM client may not do, each answered with a SCIM error (RFC 7644 §3.12), never a dropped
// connection, a crash or a 5xx: oversized bodies, too many requests, huge pages, slow requests,
// bodies that are not JSON.
import { connect } from 'node:net';
import { expect } from 'chai';
import { client, scimDirectory, startHarness, type Harness, type ScimClient } from './harness.js';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** Sends raw bytes (optionally in timed pieces) and returns the whole answer once the server closes. */
function raw(port: number, pieces: (string | number)[]): Promise<{ status: number; headers: string; body: any }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (c) => (text += c.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head, ...rest] = text.split('\r\n\r\n');
      let body = rest.join('\r\n\r\n');
      if (/transfer-encoding: chunked/i.test(head)) body = body.split('\r\n').filter((_, i) => i % 2 === 1).join('');
      resolve({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: body ? JSON.parse(body) : undefined });
    });
    void (async () => {
      for (const piece of pieces) {
        if (typeof piece === 'number') await new Promise((r) => setTimeout(r, piece));
        else if (!socket.destroyed) socket.write(piece);
      }
    })();
  });
}

describe('SCIM limits', function () {
  this.timeout(20_000);
  let h: Harness;
  let scim: ScimClient;
  let token: string;

  before(async () => {
    h = await startHarness([scimDirectory('team', 'corp'), scimDirectory('team', 'other')], {
      limits: { maxBodyBytes: 4096, ratePerSecond: 5, burst: 20, headersTimeoutMs: 300, requestTimeoutMs: 600 },
    });
    token = await h.token('team', 'corp');
    scim = client(h.baseUrl('team', 'corp'), token);
  });
  after(() => h.close());

  it('refuses a body over the size limit with 413, whether its length is declared or streamed', async () => {
    const big = { userName: 'big@example.com', displayName: 'x'.repeat(5000) };
    const declared = await scim('POST', '/Users', big);
    expect(declared.status).to.equal(413);
    expect(declared.body).to.include({ status: '413' });
    expect(declared.body.schemas).to.deep.equal([ERROR]);

    const body = JSON.stringify(big);
    const chunked = await raw(h.port, [
      `POST /scim/v2/team/corp/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
      `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    ]);
    expect(chunked.status).to.equal(413);
    expect(chunked.body).to.include({ status: '413' });
    expect((await scim('GET', '/Users?filter=' + encodeURIComponent('userName eq "big@example.com"'))).body.totalResults).to.equal(0);
  });

  it('refuses a body that is not JSON by its Content-Type with 415; application/json and scim+json pass', async () => {
    const text = await fetch(`${h.baseUrl('team', 'corp')}/Users`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/xml' }, body: '<user/>' });
    expect(text.status).to.equal(415);
    expect(await text.json()).to.include({ status: '415' });
    expect((await scim('POST', '/Users', { userName: 'json@example.com' }, { 'content-type': 'application/json; charset=utf-8' })).status).to.equal(201);
  });

  it('answers 408 with a SCIM body when the headers or the body arrive too slowly, and keeps serving', async () => {
    const slowHeaders = await raw(h.port, ['GET /scim/v2/team/corp/Users HTTP/1.1\r\nHost: x\r\n', 2_000, 'X-Late: 1\r\n\r\n']);
    expect(slowHeaders.status).to.equal(408);
    expect(slowHeaders.body).to.include({ status: '408' });
    expect(slowHeaders.body.schemas).to.deep.equal([ERROR]);

    const slowBody = await raw(h.port, [
      `POST /scim/v2/team/corp/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/scim+json\r\nContent-Length: 40\r\n\r\n{"userName":`,
      3_000,
      '"late@example.com"}',
    ]);
    expect(slowBody.status).to.equal(408);
    expect(slowBody.body).to.include({ status: '408' });
    expect((await scim('GET', '/Users?filter=' + encodeURIComponent('userName eq "late@example.com"'))).body.totalResults).to.equal(0);
  });

  it('clamps a page larger than filter.maxResults to that size, as RFC 7644 §3.4.2.4 allows', async () => {
    const spc = await scim('GET', '/ServiceProviderConfig');
    const max = spc.body.filter.maxResults as number;
    await h.store.update('team', 'corp', (doc) => {
      for (let i = 0; i <= max; i++) doc.users.push({ id: `bulk-${i}`, userName: `bulk${i}@example.com`, meta: { resourceType: 'User', created: '', lastModified: '' } } as never);
      return { doc, result: undefined };
    });
    const page = await scim('GET', `/Users?count=${max * 5}`);
    expect(page.status).to.equal(200);
    expect(page.body.itemsPerPage).to.equal(max);
    expect(page.body.Resources).to.have.length(max);
    expect(page.body.totalResults).to.be.greaterThan(max);
  });

  it('answers 429 with Retry-After once a directory token has used its burst, without slowing another directory', async () => {
    await new Promise((r) => setTimeout(r, 4_000)); // refill after the tests above
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 30 }, () => scim('GET', '/ServiceProviderConfig')));
    const refilled = Math.floor(((Date.now() - started) / 1000) * 5);
    const statuses = answers.map((a) => a.status);
    const limited = answers.find((a) => a.status === 429);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).to.deep.equal([]);
    expect(statuses.filter((s) => s === 200).length).to.be.within(20, 20 + refilled); // the burst, and what refilled meanwhile
    expect(limited, 'a 429').to.not.equal(undefined);
    expect(limited!.body).to.include({ status: '429' });
    expect(limited!.body.schemas).to.deep.equal([ERROR]);
    expect(Number(limited!.headers.get('retry-after'))).to.be.within(1, 2);

    const other = client(h.baseUrl('team', 'other'), await h.token('team', 'other'));
    expect((await other('GET', '/ServiceProviderConfig')).status).to.equal(200);
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await scim('GET', '/ServiceProviderConfig')).status, 'a token again after Retry-After').to.equal(200);
  });
});
