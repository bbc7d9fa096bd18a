import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const launcher = new URL('../../../bin/idpsync.js', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string; bin: Record<string, string> };

describe('the idpsync executable', () => {
  it('is what package.json installs as the idpsync command', () => {
    expect(new URL(`../../../${pkg.bin.idpsync}`, import.meta.url).pathname).to.equal(launcher);
  });

  it('runs from a clone without a build, and passes exit codes through', async function () {
    this.timeout(30_000);
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, [launcher, 'version']);
    expect(stdout.trim()).to.equal(pkg.version);
    const failed = await run(process.execPath, [launcher, 'run', '--workers=abc']).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).to.equal(2);
    expect(failed?.stderr).to.contain('--workers must be a whole number');
  });
});
