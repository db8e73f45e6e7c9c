/**
 * The result shape every score returns, and the input reader that turns absent
 * or unusable inputs into an `unknown` result.
 *
 * clinical-reference §0 "Missing or unknown data": a criterion whose inputs are
 * absent evaluates to UNKNOWN / needs review, never to a number and never to
 * pass. design.md habit 7: "Missing inputs make a criterion `unknown`".
 */

/** A score that could not be computed: which inputs were absent or unusable. */
export interface ScoreUnknown {
  readonly status: 'unknown';
  /** Input names (as spelled in the input type) that were absent, null, or unusable. */
  readonly missing: readonly string[];
  /**
   * The subset of `missing` that was present but unusable (not a finite
   * number, out of the physically possible range, or in the wrong unit),
   * with a short reason each. Absent when every problem is plain absence.
   */
  readonly invalid?: readonly string[];
}

/**
 * A computed score. `T` carries the score-specific fields, always a subset of
 * `{ value, raw?, class?, components? }` plus score-specific labels.
 */
export type ScoreOk<T> = { readonly status: 'ok' } & T;

/** The discriminated union every score function returns. Switch on `status`. */
export type ScoreResult<T> = ScoreOk<T> | ScoreUnknown;

/** An input that may be absent: `undefined` and `null` both mean "not known". */
export type Maybe<T> = T | null | undefined;

/** Wraps score fields into an `ok` result. */
export function ok<T extends object>(fields: T): ScoreOk<T> {
  return { status: 'ok', ...fields };
}

/** Builds an `unknown` result. */
export function unknown(missing: readonly string[], invalid: readonly string[] = []): ScoreUnknown {
  return invalid.length > 0 ? { status: 'unknown', missing, invalid } : { status: 'unknown', missing };
}

/** Narrows a result to its `ok` branch. */
export function isOk<T>(result: ScoreResult<T>): result is ScoreOk<T> {
  return result.status === 'ok';
}

/**
 * Reads score inputs one by one and records the absent or unusable ones.
 *
 * Each reader returns a placeholder (NaN, false, or the first allowed value)
 * when the input is missing, so a score reads all its inputs first, then
 * returns {@link InputReader.result} if {@link InputReader.failed}; the
 * placeholders are never used in a computation.
 */
export class InputReader {
  private readonly missing: string[] = [];
  private readonly invalid: string[] = [];

  /** True when at least one input was absent or unusable. */
  get failed(): boolean {
    return this.missing.length > 0;
  }

  /** The `unknown` result listing every problem recorded so far. */
  result(): ScoreUnknown {
    return unknown([...this.missing], [...this.invalid]);
  }

  /** Records an input as missing without reading it (e.g. an either/or pair). */
  markMissing(name: string): void {
    this.missing.push(name);
  }

  /**
   * A finite number `≥ min` (default 0: lab concentrations and counts are
   * never negative), and `> min` when `exclusiveMin` (e.g. a value whose
   * logarithm is taken), and `≤ max` when given.
   */
  number(name: string, value: Maybe<number>, range: { min?: number; exclusiveMin?: boolean; max?: number; hint?: string } = {}): number {
    if (value === undefined || value === null) return this.absent(name);
    const min = range.min ?? 0;
    const tooLow = range.exclusiveMin ? !(value > min) : !(value >= min);
    if (!Number.isFinite(value) || tooLow || (range.max !== undefined && value > range.max)) {
      return this.bad(name, range.hint ?? `expected a finite number ${range.exclusiveMin ? '>' : '≥'} ${min}${range.max !== undefined ? ` and ≤ ${range.max}` : ''}`);
    }
    return value;
  }

  /** A boolean flag; absent means unknown, never `false`. */
  flag(name: string, value: Maybe<boolean>): boolean {
    if (value === undefined || value === null) {
      this.absent(name);
      return false;
    }
    return value;
  }

  /** One of a closed set of values (clinician categories, grades). */
  oneOf<V extends string | number>(name: string, value: Maybe<V>, allowed: readonly V[]): V {
    if (value === undefined || value === null) {
      this.absent(name);
      return allowed[0];
    }
    if (!allowed.includes(value)) {
      this.bad(name, `expected one of ${allowed.join(', ')}`);
      return allowed[0];
    }
    return value;
  }

  private absent(name: string): number {
    this.missing.push(name);
    return Number.NaN;
  }

  private bad(name: string, reason: string): number {
    this.missing.push(name);
    this.invalid.push(`${name}: ${reason}`);
    return Number.NaN;
  }
}
