/**
 * Collecting trial-definition problems: every check reports and carries on, so one load
 * lists them all (design.md habit 2), in the same {file, pointer, message} shape as the
 * mapping loader (src/mapping/problems.ts). Pointers are RFC 6901.
 */

/** One problem in one trial file. `pointer` is an RFC 6901 JSON pointer into that file. */
export interface TrialLoadProblem {
  readonly file: string;
  readonly pointer: string;
  readonly message: string;
}

/** Reports a problem at a pointer of the file the reporter is bound to. */
export type Report = (pointer: string, message: string) => void;

/** Builds a pointer from segments: ptr('arms', 2, 'id') -> '/arms/2/id'. */
export function ptr(...segments: Array<string | number>): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** The one line a problem prints as: `NCT05985863.json#/visits/3/code: message`. */
export function formatTrialProblem(p: TrialLoadProblem): string {
  return `${p.file}#${p.pointer}: ${p.message}`;
}

export class ProblemSink {
  readonly problems: TrialLoadProblem[] = [];

  add(file: string, pointer: string, message: string): void {
    this.problems.push({ file, pointer, message });
  }

  forFile(file: string): Report {
    return (pointer, message) => this.add(file, pointer, message);
  }

  /** Problems grouped by file (stable: check order within a file). */
  sorted(): TrialLoadProblem[] {
    return [...this.problems].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  }
}

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
