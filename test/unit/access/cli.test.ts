// `idpsync access` end to end through the real client against a loopback server that answers the
// three list calls it makes.
import { expect } from 'chai';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseAccessArgs, runAccess } from '../../../src/cli/access.js';
import type { UserAccess, Reach } from '../../../src/access/resolve.js';
import { group, policy, user } from './builders.js';

const PREFIX = '/apis/idpsync.io/v1alpha1/namespaces/';

describe('idpsync access', () => {
  const objects: Record<string, Record<string, unknown[]>> = {
    'team-a': {
      users: [user('alice', ['eng']), user('bob', ['eng'], { state: 'Suspended' })],
      groups: [group('eng', 'Engineering')],
      policies: [policy('web', 'eng', ['10.0.0.0/8'])],
    },
  };
  const requested: string[] = [];
  const server = http.createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    requested.push(path);
    const [namespace, plural] = path.startsWith(PREFIX) ? path.slice(PREFIX.length).split('/') : [];
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ apiVersion: 'idpsync.io/v1alpha1', kind: 'List', metadata: {}, items: objects[namespace]?.[plural] ?? [] }));
  });
  let dir: string;
  let kubeconfig: string;

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    dir = mkdtempSync(join(tmpdir(), 'idpsync-access-'));
    kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'team-a' } }],
        'current-context': 'ctx',
      }),
    );
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAccess([...args, '--kubeconfig', kubeconfig], { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('prints only the resolver\'s JSON for a user, using the context\'s namespace', async () => {
    requested.length = 0;
    const { code, out, err } = await run('ALICE@corp.example', '-o', 'json');
    expect(code).to.equal(0);
    expect(err).to.equal('');
    const access = JSON.parse(out) as UserAccess[];
    expect(access).to.have.length(1);
    expect(access[0].user).to.include({ name: 'alice', state: 'Active' });
    expect(access[0].grants.map((g) => g.resource.address)).to.deep.equal(['10.0.0.0/8']);
    expect(requested.sort()).to.deep.equal([`${PREFIX}team-a/groups`, `${PREFIX}team-a/policies`, `${PREFIX}team-a/users`]);
  });

  it('exits 0 with a clear answer for a suspended user', async () => {
    const { code, out } = await run('bob', '-n', 'team-a');
    expect(code).to.equal(0);
    expect(out).to.match(/^bob@corp\.example \(Suspended\) has no access/);
  });

  it('exits 1 with a message naming the namespace when no User matches', async () => {
    const { code, out, err } = await run('alice', '-n', 'team-b', '-o', 'json');
    expect(code).to.equal(1);
    expect(out).to.equal('');
    expect(err).to.contain('namespace team-b');
  });

  it('answers who can reach an address', async () => {
    const { code, out } = await run('--resource', '10.1.2.3', '--port', '443', '-o', 'json');
    expect(code).to.equal(0);
    const reach = JSON.parse(out) as Reach[];
    expect(reach.map((r) => [r.policy, r.users])).to.deep.equal([['web', ['alice@corp.example']]]);
  });
});

describe('parseAccessArgs', () => {
  it('reads a user query and a resource query', () => {
    expect(parseAccessArgs(['alice', '-n', 'ns'])).to.deep.equal({ namespace: 'ns', kubeconfig: undefined, output: 'table', user: 'alice' });
    expect(parseAccessArgs(['--resource', 'db.internal', '--port', '5432', '--protocol', 'tcp', '-o', 'json'])).to.deep.include({
      output: 'json',
      reach: { address: 'db.internal', port: 5432, protocol: 'TCP' },
    });
  });

  it('rejects what cannot be answered', () => {
    const cases: [string[], RegExp][] = [
      [[], /needs one USER/],
      [['a', 'b'], /needs one USER/],
      [['alice', '--port', '443'], /go with --resource/],
      [['alice', '--resource', '10.0.0.1'], /not both/],
      [['--resource', 'db server'], /not an IP address/],
      [['--resource', '10.0.0.1', '--port', '70000'], /1 to 65535/],
      [['--resource', '10.0.0.1', '--port', '443', '--protocol', 'icmp'], /cannot be combined/],
      [['--resource', '10.0.0.1', '--protocol', 'sctp'], /must be one of TCP, UDP, ICMP/],
      [['alice', '-o', 'yaml'], /table or json/],
    ];
    for (const [args, message] of cases) expect(() => parseAccessArgs(args), args.join(' ')).to.throw(message);
  });
});
