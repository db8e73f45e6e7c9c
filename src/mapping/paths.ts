/**
 * Where the repository's mapping files live, found from this module's location so it
 * holds for ts sources (src/mapping) and for compiled output (dist/src/mapping) alike.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The nearest ancestor of this module holding package.json: the repository root. */
function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(start, '..', '..');
  }
}

export const REPO_ROOT = findRepoRoot(__dirname);

/** `<repo>/mappings`: the default for `loadMappings` and `trialbridge validate-mappings`. */
export const DEFAULT_MAPPINGS_DIR = path.join(REPO_ROOT, 'mappings');
