/**
 * Collecting load problems: every check reports and carries on, so one run lists them
 * all (design.md habit 2). Pointers are RFC 6901.
 */
import type { LoadProblem } from './types';

/** Escapes one JSON pointer segment (`~` -> `~0`, `/` -> `~1`). */
function escapeSegment(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Builds a pointer from segments: ptr('rules', 3, 'unit') -> '/rules/3/unit'. */
export function ptr(...segments: Array<string | number>): string {
  return segments.map((s) => `/${escapeSegment(s)}`).join('');
}

/** The one line a problem prints as: `crf/NCT05985863.json#/rules/3/unit: message`. */
export function formatProblem(p: LoadProblem): string {
  return `${p.file}#${p.pointer}: ${p.message}`;
}

export class ProblemSink {
  readonly problems: LoadProblem[] = [];

  add(file: string, pointer: string, message: string): void {
    this.problems.push({ file, pointer, message });
  }

  /** A reporter bound to one file, the form the checkers take. */
  forFile(file: string): (pointer: string, message: string) => void {
    return (pointer, message) => this.add(file, pointer, message);
  }
}

export type Report = (pointer: string, message: string) => void;

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
