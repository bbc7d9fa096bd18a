// The package version, read from idpsync's own package.json so it cannot drift from a release.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Walks up from this module: the source (src/cli) and the build (dist/src/cli) sit at different depths. */
export function packageVersion(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'idpsync' && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) throw new Error(`idpsync's package.json not found above ${from}`);
  }
}
