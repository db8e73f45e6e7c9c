/** The loaded trials, by key (immutable once built). */
import type { Trial, TrialSet } from './types';

export class LoadedTrialSet implements TrialSet {
  readonly keys: readonly string[];
  private readonly byKey: ReadonlyMap<string, Trial>;

  constructor(trials: readonly Trial[]) {
    this.byKey = new Map(trials.map((t) => [t.key, t] as const));
    this.keys = Object.freeze([...this.byKey.keys()].sort());
    Object.freeze(this);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  get(key: string): Trial | undefined {
    return this.byKey.get(key);
  }
}
