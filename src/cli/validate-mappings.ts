/**
 * `trialbridge validate-mappings [dir] [--trials DIR]`: load the mapping files and the
 * trial definitions exactly as the service does at boot (one trial package per key,
 * cross-checked, design.md "A trial is a package") and print every problem
 * (`file#pointer: message`), or a summary. Exit code 0 when everything loads, 1 when it
 * does not, 2 on bad arguments (CI runs this on every change to mappings/).
 */
import * as path from 'node:path';
import { DEFAULT_MAPPINGS_DIR, formatProblem } from '../mapping';
import { loadTrialPackages } from '../protocol/package';
import { TrialPackageLoadError } from '../protocol/trials';

export interface CommandOutput {
  log(s: string): void;
  error(s: string): void;
}

const USAGE = 'usage: trialbridge validate-mappings [MAPPINGS_DIR] [--trials TRIALS_DIR (default MAPPINGS_DIR/trials)]';

function parseArgs(argv: readonly string[]): { mappingsDir: string; trialsDir: string } | string {
  let dir: string | undefined;
  let trials: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--trials') {
      trials = argv[++i];
      if (!trials) return '--trials needs a directory';
    } else if (a.startsWith('--')) return `unknown option ${a}`;
    else if (dir === undefined) dir = a;
    else return `unexpected argument ${a}`;
  }
  const mappingsDir = path.resolve(dir ?? DEFAULT_MAPPINGS_DIR);
  return { mappingsDir, trialsDir: path.resolve(trials ?? path.join(mappingsDir, 'trials')) };
}

export async function validateMappingsCommand(argv: string[], out: CommandOutput): Promise<number> {
  const dirs = parseArgs(argv);
  if (typeof dirs === 'string') {
    out.error(`validate-mappings: ${dirs}\n${USAGE}`);
    return 2;
  }
  try {
    const { trials, mappings: set } = loadTrialPackages(dirs);
    out.log(`mappings OK: ${dirs.mappingsDir}`);
    out.log(`  trials: ${set.trials.length} (${set.trials.join(', ')}), each with its trial definition in ${dirs.trialsDir}`);
    out.log(`  rules:  ${set.ruleCount}`);
    for (const trial of set.trials) out.log(`    ${trial}: ${set.rulesFor(trial).length} rules, ${trials.get(trial)!.eligibility.length} criteria`);
    out.log(`  LOINC codes watched: ${set.watchedCodes().length}`);
    return 0;
  } catch (err) {
    if (!(err instanceof TrialPackageLoadError)) throw err;
    for (const p of err.problems) out.error(formatProblem(p));
    out.error(`${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} in ${dirs.mappingsDir}${dirs.trialsDir.startsWith(dirs.mappingsDir) ? '' : ` and ${dirs.trialsDir}`}`);
    return 1;
  }
}
