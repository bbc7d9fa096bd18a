import { expect } from 'chai';
import { StallError, TransientError } from '../../../src/errors.js';
import { verifyOptions } from '../../../src/providers/types.js';
import { runProbes, type Probe } from '../../../src/providers/verify.js';

const ok = (name: string): Probe => ({ name, run: async () => undefined });
const refused = (name: string, err: StallError, extra: Partial<Probe> = {}): Probe => ({ name, run: async () => Promise.reject(err), ...extra });

describe('verify probes', () => {
  it('reports each refusal with what is missing and carries on', async () => {
    const result = await runProbes([
      ok('token'),
      refused('GET /users', new StallError('AccessDenied', 'no'), { permission: 'users.read' }),
      refused('GET /groups', new StallError('AccessDenied', 'no', { missingPermission: 'groups.read' }), { permission: 'fallback' }),
      refused('GET /apps', new StallError('InvalidCredentials', 'bad key'), { permission: 'apps.read' }),
    ], { credentials: 'a valid key' });
    expect(result.ok).to.equal(false);
    expect(result.checks.map((c) => [c.name, c.ok, c.missing])).to.deep.equal([
      ['token', true, undefined],
      ['GET /users', false, 'users.read'],
      ['GET /groups', false, 'groups.read'],
      ['GET /apps', false, 'a valid key'],
    ]);
  });

  it('stops after a required probe fails, leaves out probes whose prerequisite failed, and reports skips', async () => {
    let groupsRead = false;
    const ran: string[] = [];
    const track = (name: string): Probe => ({ name, run: async () => void ran.push(name) });
    const first = await runProbes([
      { name: 'groups', run: async () => void (groupsRead = true) },
      { name: 'members', onlyIf: () => groupsRead, run: async () => ({ skipped: 'no group' }) },
      refused('token', new StallError('InvalidCredentials', 'bad'), { required: true }),
      track('after'),
    ]);
    expect(first.checks.map((c) => [c.name, c.ok, c.message])).to.deep.equal([
      ['groups', true, undefined],
      ['members', true, 'skipped: no group'],
      ['token', false, 'bad'],
    ]);
    expect(ran).to.deep.equal([]);

    const second = await runProbes([refused('groups', new StallError('AccessDenied', 'no')), { name: 'members', onlyIf: () => false, run: async () => undefined }]);
    expect(second.checks.map((c) => c.name)).to.deep.equal(['groups']);
  });

  it('lets "try again later" through: it says nothing about permissions', async () => {
    const err = new TransientError('IdpUnavailable', 'down');
    const thrown = await runProbes([{ name: 'x', run: async () => Promise.reject(err) }]).catch((e: unknown) => e);
    expect(thrown).to.equal(err);
  });

  it('accepts verify(signal) and verify(options)', () => {
    const signal = new AbortController().signal;
    expect(verifyOptions(signal)).to.deep.equal({ signal });
    expect(verifyOptions({ signal, syncOrgUnits: true })).to.deep.equal({ signal, syncOrgUnits: true });
    expect(verifyOptions(undefined)).to.deep.equal({});
  });
});
