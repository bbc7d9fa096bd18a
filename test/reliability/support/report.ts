// The reliability suite's figures: each test calls report(section, figures) and the runner
// (test/reliability/run.ts) turns what was collected into one Markdown table. Figures are appended
// to the JSON-lines file named by RELIABILITY_REPORT; without it (a test run on its own) they are
// only printed.
import { appendFileSync } from 'node:fs';

export type Figure = number | string | boolean;

export interface ReportLine {
  section: string;
  figures: Record<string, Figure>;
  /** How the figures were produced, e.g. the test file and mode. */
  command: string;
  at: string;
}

export function isShort(): boolean {
  return process.env.RELIABILITY_SHORT === '1';
}

/** The command that reproduces a figure: the runner in the current mode, narrowed to one file. */
export function commandFor(file: string): string {
  const name = file.split('/').pop();
  return `npm run test:reliability --${isShort() ? ' --short' : ''} --only ${name}`;
}

export function report(section: string, figures: Record<string, Figure>, file = 'test/reliability'): void {
  const line: ReportLine = { section, figures, command: commandFor(file), at: new Date().toISOString() };
  const path = process.env.RELIABILITY_REPORT;
  if (path) appendFileSync(path, JSON.stringify(line) + '\n');
  console.log(`    [figures] ${section}: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(', ')}`);
}

/** A number from the environment, or the short/long default. */
export function envNumber(name: string, long: number, short: number): number {
  const raw = process.env[name];
  if (raw !== undefined && raw !== '') {
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw} is not a non-negative number`);
    return value;
  }
  return isShort() ? short : long;
}

/** A Markdown block (e.g. the admission table) the runner prints after the figures. */
export function attach(title: string, markdown: string): void {
  const path = process.env.RELIABILITY_REPORT;
  if (path) appendFileSync(path, JSON.stringify({ attachment: title, markdown }) + '\n');
  console.log(`\n${title}\n\n${markdown}\n`);
}
