// npm run bench: decide() alone (bench/decide.ts), or with --e2e the whole operator against the real
// control plane and the Okta emulator (bench/sync-e2e.ts).
if (process.argv.includes('--e2e')) await import('./sync-e2e.js');
else await import('./decide.js');
