// Writes crds/*.yaml and the chart's CRD templates (helm/idpsync/templates/crds/) from src/api;
// with --check, fails when any of them differs, when a stale file is left over, or when the chart
// is out of step with the package (appVersion, a static crds/ folder Helm would never upgrade).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ALL_KINDS, GROUP, type KindDefinition } from '../src/api/v1alpha1/index.js';
import { renderCrdHelmTemplate, renderCrdYaml } from '../src/api/crdgen.js';

const CHART = 'helm/idpsync';
// Helm installs files in a chart's crds/ folder once and never upgrades them; the CRDs are templates instead.
const STATIC_CHART_CRDS = join(CHART, 'crds');

interface Target {
  dir: string;
  render(def: KindDefinition): string;
}

const targets: Target[] = [
  { dir: 'crds', render: renderCrdYaml },
  { dir: join(CHART, 'templates/crds'), render: renderCrdHelmTemplate },
];

const check = process.argv.includes('--check');
const problems: string[] = [];

for (const { dir, render } of targets) {
  const expected = new Map(ALL_KINDS.map((def) => [`${GROUP}_${def.plural}.yaml`, render(def)]));
  if (!check) mkdirSync(dir, { recursive: true });
  const present = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')) : [];
  for (const stale of present.filter((f) => !expected.has(f))) {
    if (check) problems.push(`${join(dir, stale)} is not generated from any kind: run npm run generate`);
    else rmSync(join(dir, stale));
  }
  for (const [name, text] of expected) {
    const file = join(dir, name);
    if (!check) writeFileSync(file, text);
    else if (!existsSync(file) || readFileSync(file, 'utf8') !== text) problems.push(`${file} is out of date: run npm run generate and commit the result`);
  }
}

if (existsSync(STATIC_CHART_CRDS)) {
  if (check) problems.push(`${STATIC_CHART_CRDS}/ must not exist: Helm would install it next to the CRD templates and never upgrade it`);
  else rmSync(STATIC_CHART_CRDS, { recursive: true });
}

const packageVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const appVersion = String((parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: unknown }).appVersion);
if (appVersion !== packageVersion) {
  problems.push(`${CHART}/Chart.yaml appVersion ${appVersion} differs from package.json version ${packageVersion} (the default image tag)`);
}

for (const p of problems) console.error(p);
if (problems.length) process.exit(1);
console.log(check ? 'generated files are up to date' : `wrote ${ALL_KINDS.length} CRDs to ${targets.map((t) => t.dir).join(', ')}`);
