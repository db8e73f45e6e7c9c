/**
 * Collecting trial-definition problems: every check reports and carries on, so one load
 * lists them all (design.md habit 2), in the same {file, pointer, message} shape as the
 * mapping loader (src/mapping/problems.ts). Pointers are RFC 6901.
 */

import { formatProblem, type LoadProblem } from '../../util/load-problems';

export { ProblemSink, ptr, type Report } from '../../util/load-problems';

/** One problem in one trial file. `pointer` is an RFC 6901 JSON pointer into that file. */
export type TrialLoadProblem = LoadProblem;

/** The one line a problem prints as: `NCT05985863.json#/visits/3/code: message`. */
export const formatTrialProblem = formatProblem;

/** Thrown by loadTrials / trialFromJson with every problem found; nothing is loaded. */
export class TrialLoadError extends Error {
  readonly problems: readonly TrialLoadProblem[];

  constructor(where: string, problems: readonly TrialLoadProblem[]) {
    const n = problems.length;
    super(`${n} problem${n === 1 ? '' : 's'} in trial definitions under ${where}:\n${problems.map((p) => `  ${formatTrialProblem(p)}`).join('\n')}`);
    this.name = 'TrialLoadError';
    this.problems = problems;
  }
}
