#!/usr/bin/env node
// The idpsync executable; the commands are in ./commands.ts.
import { runCli } from './commands.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    // 0 leaves the process alone: `run` keeps serving until a signal stops it.
    if (code !== 0) process.exit(code);
  },
  (err) => {
    console.error(`idpsync: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
