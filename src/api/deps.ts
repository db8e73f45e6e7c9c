/** What the /api routers need from the running app (passed in, design.md habit 8). */
import type { TrialSet } from '../protocol/trials';
import type { MappingSet } from '../mapping';

export interface SubjectRef {
  readonly trial: string;
  readonly subject: string;
  readonly site: string;
}

export interface ApiDeps {
  readonly trials: TrialSet;
  readonly mappings: MappingSet;
  readonly timeZoneOf: (site: string) => string;
  /** Queues a subject's re-evaluation (after a person changed its data). */
  readonly evaluateQueue?: { enqueue(subjects: readonly SubjectRef[]): Promise<void> };
  /** Re-evaluates a subject at once, so the response shows the new verdicts. */
  readonly evaluateNow?: (k: SubjectRef) => Promise<unknown>;
  /** Where a failed re-evaluation after a review is reported (it never fails the review itself). */
  readonly log?: { warn(obj: object, msg: string): void };
}

/** Re-evaluates at once when the app can (the response then shows it), else queues it. */
export async function reevaluate(deps: ApiDeps, k: SubjectRef): Promise<void> {
  if (deps.evaluateNow) await deps.evaluateNow(k);
  else await deps.evaluateQueue?.enqueue([k]);
}
