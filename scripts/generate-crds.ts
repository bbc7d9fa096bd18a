// Writes crds/*.yaml (and the chart's copy) from src/api; with --check, fails when they differ.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_KINDS, GROUP } from '../src/api/v1alpha1/index.js';
import { renderCrdYaml } from '../src/api/crdgen.js';

const check = process.argv.includes('--check');
const targets = ['crds', 'helm/idpsync/crds'];
let drift = 0;
for (const dir of targets) {
  if (!check) mkdirSync(dir, { recursive: true });
  for (const def of ALL_KINDS) {
    const file = join(dir, `${GROUP}_${def.plural}.yaml`);
    const text = renderCrdYaml(def);
    if (check) {
      if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
        console.error(`${file} is out of date: run npm run generate and commit the result`);
        drift++;
      }
    } else {
      writeFileSync(file, text);
    }
  }
}
if (drift) process.exit(1);
console.log(check ? 'generated files are up to date' : `wrote ${ALL_KINDS.length} CRDs to ${targets.join(', ')}`);
