/**
 * Collecting trial-definition problems: every check reports and carries on, so one load
 * lists them all (design.md habit 2), in the same {file, pointer, message} shape as the
 * mapping loader (src/mapping/problems.ts). Pointers are RFC 6901.
 */

import { formatProblem, LoadError, type LoadProblem } from '../../util/load-problems';

export { ProblemSink, ptr, type Report } from '../../util/load-problems';

/** One problem in one trial file. `pointer` is an RFC 6901 JSON pointer into that file. */
export type TrialLoadProblem = LoadProblem;

/** The one line a problem prints as: `NCT05985863.json#/visits/3/code: message`. */
export const formatTrialProblem = formatProblem;

/** Thrown by loadTrials / trialFromJson with every problem found; nothing is loaded. */
export class TrialLoadError extends LoadError {
  constructor(where: string, problems: readonly TrialLoadProblem[]) {
    super('trial definitions', where, problems);
    this.name = 'TrialLoadError';
  }
}

/**
 * Thrown by loadTrialPackages: the problems of the trial files, of the mapping files and
 * of their cross-check, all at once (design.md "A trial is a package"). Files are named
 * `trials/<key>.json` and `crf/<key>.json` (relative to the mappings directory) so one
 * list can hold both kinds.
 */
export class TrialPackageLoadError extends LoadError {
  constructor(where: string, problems: readonly TrialLoadProblem[]) {
    super('trial packages (trial files and CRF mapping files)', where, problems);
    this.name = 'TrialPackageLoadError';
  }
}
