/**
 * Collecting load problems for data files (mapping rules, trial definitions):
 * every check reports and carries on, so one load lists them all (design.md
 * habit 2), each as {file, RFC 6901 pointer, message}.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface LoadProblem {
  /** Path of the file relative to the directory loaded. */
  readonly file: string;
  /** RFC 6901 JSON pointer inside the file ('' for the whole file). */
  readonly pointer: string;
  readonly message: string;
}

/**
 * A data file (mapping rules, trial definitions, a trial package) cannot be loaded: every
 * problem found, nothing loaded. The CLI prints `message` (one line per problem) without a
 * stack trace, whichever loader threw.
 */
export class LoadError extends Error {
  readonly problems: readonly LoadProblem[];

  constructor(what: string, where: string, problems: readonly LoadProblem[]) {
    const n = problems.length;
    super(`${n} problem${n === 1 ? '' : 's'} in ${what} under ${where}:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
    this.problems = problems;
  }
}

/** Reports a problem at a pointer of the file the reporter is bound to. */
export type Report = (pointer: string, message: string) => void;

/** Builds a pointer from segments: ptr('rules', 3, 'unit') -> '/rules/3/unit' (`~` -> `~0`, `/` -> `~1`). */
export function ptr(...segments: Array<string | number>): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
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
  forFile(file: string): Report {
    return (pointer, message) => this.add(file, pointer, message);
  }

  /** Problems grouped by file (stable: check order within a file). */
  sorted(): LoadProblem[] {
    return [...this.problems].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  }
}

export interface ParsedFile {
  readonly file: string;
  readonly json: unknown;
  readonly report: Report;
}

/** Parses the named files of `dir` in a stable order; a file that is not JSON is reported, not thrown. */
export function parseJsonFiles(dir: string, names: readonly string[], sink: ProblemSink): ParsedFile[] {
  const parsed: ParsedFile[] = [];
  for (const file of [...names].sort()) {
    const report = sink.forFile(file);
    try {
      parsed.push({ file, json: JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')), report });
    } catch (err) {
      report('', `not valid JSON: ${(err as Error).message}`);
    }
  }
  return parsed;
}
