/**
 * `trialbridge validate-mappings [dir]`: load the mapping files exactly as the service
 * does at boot and print every problem (`file#pointer: message`), or a summary. Exit code
 * 0 when the files load, 1 when they do not (CI runs this on every change to mappings/).
 */
import * as path from 'node:path';
import { DEFAULT_MAPPINGS_DIR, formatProblem, loadMappings, MappingLoadError } from '../mapping';

export interface CommandOutput {
  log(s: string): void;
  error(s: string): void;
}

export async function validateMappingsCommand(argv: string[], out: CommandOutput): Promise<number> {
  const dir = path.resolve(argv[0] ?? DEFAULT_MAPPINGS_DIR);
  try {
    const set = loadMappings(dir);
    out.log(`mappings OK: ${dir}`);
    out.log(`  trials: ${set.trials.length} (${set.trials.join(', ')})`);
    out.log(`  rules:  ${set.ruleCount}`);
    for (const trial of set.trials) out.log(`    ${trial}: ${set.rulesFor(trial).length}`);
    out.log(`  LOINC codes watched: ${set.watchedCodes().length}`);
    return 0;
  } catch (err) {
    if (!(err instanceof MappingLoadError)) throw err;
    for (const p of err.problems) out.error(formatProblem(p));
    out.error(`${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} in ${dir}`);
    return 1;
  }
}
