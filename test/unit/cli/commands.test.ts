import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { runCli } from '../../../src/cli/commands.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const VERBS = ['run', 'render', 'access', 'version'];

describe('idpsync command line', () => {
  for (const verb of VERBS) {
    for (const flag of ['--help', '-h']) {
      it(`${verb} ${flag} prints that command's usage and exits 0`, async () => {
        const { code, out, err } = await cli(verb, flag);
        expect(code).to.equal(0);
        expect(err).to.equal('');
        expect(out).to.match(new RegExp(`^Usage: idpsync ${verb}\\b`));
        for (const other of VERBS.filter((v) => v !== verb)) expect(out).not.to.contain(`idpsync ${other}`);
      });
    }
  }

  it('help VERB is the same as VERB --help; help alone lists every command', async () => {
    expect((await cli('help', 'render')).out).to.equal((await cli('render', '--help')).out);
    const { code, out } = await cli('help');
    expect(code).to.equal(0);
    for (const verb of VERBS) expect(out).to.match(new RegExp(`^  ${verb} +\\S`, 'm'));
    expect((await cli()).out).to.equal(out);
  });

  it('--help wins over other flags, but not after --', async () => {
    expect((await cli('render', '-f', 'x.yaml', '--bogus', '--help')).code).to.equal(0);
    const { code, err } = await cli('version', '--', '--help');
    expect(code).to.equal(2);
    expect(err).to.contain('unexpected argument --help');
  });

  it('an unknown option names itself and the command, and exits 2', async () => {
    for (const verb of VERBS) {
      const { code, out, err } = await cli(verb, '--frobnicate');
      expect(code, verb).to.equal(2);
      expect(out).to.equal('');
      expect(err).to.equal(`idpsync ${verb}: unknown option --frobnicate\nRun 'idpsync ${verb} --help' for usage.`);
    }
  });

  it('an unknown command exits 2 with the list of commands', async () => {
    const { code, err } = await cli('sync');
    expect(code).to.equal(2);
    expect(err).to.match(/^idpsync: unknown command "sync"\n/);
    expect(err).to.contain('  render');
    expect((await cli('toString')).code).to.equal(2);
  });

  it('a missing value, a wrong -o and a missing -f are usage errors', async () => {
    expect(await cli('run', '--workers')).to.deep.include({ code: 2, err: "idpsync run: --workers needs a value\nRun 'idpsync run --help' for usage." });
    expect((await cli('run', '--leader-elect=yes')).err).to.contain('--leader-elect does not take a value');
    expect((await cli('render', '-f', 'a.yaml', '-o', 'xml')).err).to.contain('-o must be yaml, json, table, not "xml"');
    expect((await cli('render')).err).to.contain('needs at least one -f FILE');
    expect((await cli('access')).code).to.equal(2);
  });

  it('a failure that is not a usage error exits 1', async () => {
    const { code, err } = await cli('render', '-f', '/nonexistent/directorysync.yaml');
    expect(code).to.equal(1);
    expect(err).to.match(/^idpsync render: ENOENT/);
  });

  it('version prints the version in package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await cli('version')).to.deep.equal({ code: 0, out: version, err: '' });
    expect((await cli('--version')).out).to.equal(version);
  });
});
