/**
 * Collecting load problems: every check reports and carries on, so one run lists them
 * all (design.md habit 2). Pointers are RFC 6901.
 */
import type { LoadProblem } from './types';

export { ProblemSink, formatProblem, ptr, type Report } from '../util/load-problems';
import { LoadError } from '../util/load-problems';

/** Thrown by loadMappings with every problem found; nothing is loaded. */
export class MappingLoadError extends LoadError {
  constructor(dir: string, problems: readonly LoadProblem[]) {
    super('mapping files', dir, problems);
    this.name = 'MappingLoadError';
  }
}
