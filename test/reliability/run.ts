// `npm run test:reliability [-- --short] [--only <file>] [--grep <test>] [--markdown <path>]`: runs every
// test/reliability/*.e2e.ts file on one real control plane (the end-to-end harness), then prints
// the figures the tests reported as one Markdown table. --short (or RELIABILITY_SHORT=1) is the
// form CI runs; without it, loops and the soak run their long lengths.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { markdownTable, parseReport } from './support/table.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    short: { type: 'boolean', default: process.env.RELIABILITY_SHORT === '1' },
    only: { type: 'string', multiple: true },
    markdown: { type: 'string' },
    grep: { type: 'string' },
  },
});

const files = readdirSync(here)
  .filter((f) => f.endsWith('.e2e.ts'))
  .filter((f) => !values.only || values.only.some((o) => f === o || f.startsWith(o)))
  .sort()
  .map((f) => join('test/reliability', f));
if (files.length === 0) {
  console.error(`no test/reliability/*.e2e.ts file matches ${values.only?.join(', ')}`);
  process.exit(2);
}

const scratch = mkdtempSync(join(tmpdir(), 'idpsync-reliability-'));
const reportPath = join(scratch, 'figures.jsonl');
const started = Date.now();
console.log(`reliability suite (${values.short ? 'short' : 'long'} form): ${files.join(' ')}`);

const mocha = join(repoRoot, 'node_modules/.bin/mocha');
const child = spawn(mocha, ['--config', 'test/e2e/.mocharc.json', ...(values.grep ? ['--grep', values.grep] : []), ...files], {
  cwd: repoRoot,
  stdio: 'inherit',
  env: { ...process.env, RELIABILITY_SHORT: values.short ? '1' : '0', RELIABILITY_REPORT: reportPath },
});
const code: number = await new Promise((done) => child.on('exit', (c, signal) => done(c ?? (signal ? 1 : 0))));

const { lines, attachments } = existsSync(reportPath) ? parseReport(readFileSync(reportPath, 'utf8')) : { lines: [], attachments: [] };
const table = [markdownTable(lines), ...attachments.map((a) => `### ${a.attachment}\n\n${a.markdown}`)].join('\n\n');
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
console.log(`\n## Reliability figures (${values.short ? 'short' : 'long'} form, ${minutes} min, mocha exit ${code})\n\n${table}\n`);
if (values.markdown) writeFileSync(values.markdown, table + '\n');
rmSync(scratch, { recursive: true, force: true });
process.exit(code);
