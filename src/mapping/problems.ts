/**
 * Collecting load problems: every check reports and carries on, so one run lists them
 * all (design.md habit 2). Pointers are RFC 6901.
 */
import type { LoadProblem } from './types';

export { ProblemSink, formatProblem, ptr, type Report } from '../util/load-problems';
import { formatProblem } from '../util/load-problems';

/** Thrown by loadMappings with every problem found; nothing is loaded. */
export class MappingLoadError extends Error {
  readonly problems: readonly LoadProblem[];

  constructor(dir: string, problems: readonly LoadProblem[]) {
    const n = problems.length;
    super(`${n} problem${n === 1 ? '' : 's'} in mapping files under ${dir}:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
    this.name = 'MappingLoadError';
    this.problems = problems;
  }
}
