import { expect } from 'chai';
import { RateLimitGate } from '../../../src/providers/http.js';
import { RateLimitRecord, listingTimedOut } from '../../../src/providers/rate-limits.js';

/** A clock that only moves when the gate sleeps; sleeps resolve at once. */
function harness() {
  let now = 1_000_000;
  const sleeps: number[] = [];
  const gate = new RateLimitGate(
    () => now,
    async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    () => 0.5,
    500,
    60_000,
  );
  return { gate, sleeps, advance: (ms: number) => (now += ms) };
}

describe('rate-limit gate', () => {
  it('closes for everyone on a rate-limit answer and doubles the pause while the IdP keeps refusing', async () => {
    const { gate, sleeps } = harness();
    const a = await gate.admit();
    const b = await gate.admit();
    gate.rateLimited(a);
    // b was sent before the gate closed: its refusal is the same episode, not a new strike.
    gate.rateLimited(b);
    const trial = await gate.admit();
    expect(trial.trial).to.equal(true);
    expect(sleeps).to.deep.equal([375]); // 500 ms backoff with the jitter at its midpoint
    gate.rateLimited(trial);
    const second = await gate.admit();
    expect(sleeps).to.deep.equal([375, 750]);
    gate.answered(second, true);
    const after = await gate.admit();
    expect(after.trial).to.equal(false);
  });

  it('lets one request go first after reopening; the others wait for its answer', async () => {
    const { gate } = harness();
    gate.rateLimited(await gate.admit());
    const trial = await gate.admit();
    expect(trial.trial).to.equal(true);
    let followerAdmitted = false;
    const follower = gate.admit().then((a) => {
      followerAdmitted = true;
      return a;
    });
    await new Promise((r) => setImmediate(r));
    expect(followerAdmitted).to.equal(false);
    gate.answered(trial, true);
    expect((await follower).trial).to.equal(false);
  });

  it('honours the IdP\'s Retry-After as the pause', async () => {
    const { gate, sleeps } = harness();
    gate.rateLimited(await gate.admit(), 7000);
    await gate.admit();
    expect(sleeps[0]).to.be.within(7000, 7500);
  });

  it('stops waiting when the request is aborted', async () => {
    const { gate } = harness();
    gate.rateLimited(await gate.admit());
    await gate.admit(); // the trial, never answered
    const aborter = new AbortController();
    const waiting = gate.admit(aborter.signal);
    aborter.abort(new Error('sync cancelled'));
    const err = await waiting.then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).to.equal('sync cancelled');
  });
});

describe('token requests and the rate-limit gate', () => {
  it('a token request waits while the gate is closed, and a 429 from the token endpoint closes it for the API requests', async () => {
    const { createServer } = await import('node:http');
    const { IdpHttpClient } = await import('../../../src/providers/http.js');
    let tokenAnswers = 0;
    const server = createServer((req, res) => {
      tokenAnswers++;
      if (tokenAnswers === 1) {
        res.writeHead(429, { 'retry-after': '3' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"t","expires_in":60}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sleeps: number[] = [];
    let reopen = () => {};
    const client = new IdpHttpClient({
      idpName: 'test',
      sleep: (ms) => {
        sleeps.push(ms);
        return new Promise<void>((resolve) => (reopen = resolve));
      },
      random: () => 0,
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/token`;
      expect((await client.fetch(url, { method: 'POST' })).status).to.equal(429);
      expect(sleeps).to.deep.equal([3000]);
      // Closed for every request of this IdP: the next token request waits until the pause ends.
      const next = client.fetch(url, { method: 'POST' });
      await new Promise((r) => setTimeout(r, 50));
      expect(tokenAnswers).to.equal(1);
      reopen();
      expect((await next).status).to.equal(200);
      expect(tokenAnswers).to.equal(2);
      expect(client.calls).to.equal(2);
    } finally {
      server.close();
      await client.close();
    }
  });
});

describe('the record of rate-limit answers', () => {
  it('counts the rate-limit answers since a time, until a successful answer ends the run', async () => {
    const record = new RateLimitRecord();
    const gate = new RateLimitGate(() => 5000, async () => {}, () => 0, 500, 60_000, record);
    record.limited(1000); // before the listing began
    gate.rateLimited(await gate.admit());
    gate.rateLimited(await gate.admit());
    expect(record.limitedSince(2000)).to.equal(2);
    gate.answered(await gate.admit(), false); // another error does not say the limit is over
    expect(record.limitedSince(2000)).to.equal(2);
    gate.answered(await gate.admit(), true);
    expect(record.limitedSince(0)).to.equal(0);
  });

  it('names the rate limit when a listing timed out during a run of them, and plain slowness otherwise', () => {
    const limited = listingTimedOut(25_000, 14, new Error('aborted'));
    expect(limited).to.deep.include({ reason: 'RateLimited', origin: 'idp' });
    expect(limited.message).to.equal('the IdP kept answering with rate-limit or quota errors (429 or its quota error, 14 during this listing), so the listing did not finish within 25 s; nothing was changed; a directory too large to read in that time needs a longer --idp-read-timeout (chart value idpReadTimeout)');
    expect(listingTimedOut(25_000, 0, undefined)).to.deep.include({ reason: 'Timeout', message: 'the IdP did not finish the listing within 25 s; nothing was changed; a directory too large to read in that time needs a longer --idp-read-timeout (chart value idpReadTimeout)' });
  });
});
