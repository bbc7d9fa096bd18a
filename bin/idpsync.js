#!/usr/bin/env node
// Starts the idpsync command line. The published package runs its compiled dist/. A clone of the
// repository has src/ and tsx (a dev dependency), and runs the TypeScript sources: no build step
// after `npm ci`, and never an out-of-date dist/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/src/cli/main.js', import.meta.url);

async function typescriptLoader() {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    return true;
  } catch {
    return false;
  }
}

if (existsSync(source) && (await typescriptLoader())) {
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  console.error('idpsync: neither tsx (to run the sources) nor a build is installed: run `npm ci`, or `npm run build`');
  process.exit(1);
}
