// Turns the reporter's JSON lines into the Markdown summary the runner prints and the docs quote.
import type { Figure, ReportLine } from './report.js';

export interface Attachment {
  attachment: string;
  markdown: string;
}

export function parseReport(text: string): { lines: ReportLine[]; attachments: Attachment[] } {
  const entries = text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ReportLine | Attachment);
  return {
    lines: entries.filter((e): e is ReportLine => 'section' in e),
    attachments: entries.filter((e): e is Attachment => 'attachment' in e),
  };
}

function show(value: Figure): string {
  return typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(2) : String(value);
}

/** One row per section: its figures as `name value` pairs, and the command that produced them. */
export function markdownTable(lines: ReportLine[]): string {
  const rows = ['| section | figures | command |', '| --- | --- | --- |'];
  for (const line of lines) {
    const figures = Object.entries(line.figures)
      .map(([k, v]) => `${k} ${show(v)}`)
      .join(', ');
    rows.push(`| ${line.section} | ${figures.replace(/\|/g, '\\|')} | \`${line.command}\` |`);
  }
  return rows.join('\n');
}
