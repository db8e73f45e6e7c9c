/**
 * The evaluation context: facts with parsed time points, the window a rule reads values
 * from (screening, or before the onset of liver failure), and "latest value in the
 * window" selection. Days are local calendar dates (clinical-reference §6).
 */
import type { ItemUnits } from '../../mapping';
import { addDays, toTimePoint, type LocalDate, type TimePoint } from '../schedule';
import type { Trial } from '../trials';
import type { ClinicalFinding, CodedFact, EligibilityFacts, FindingKind, LabFact, Verdict } from './types';

/** What one rule concludes. */
export interface Outcome {
  readonly verdict: Verdict;
  readonly reason: string;
  readonly evidence: readonly string[];
}

export const unknownOutcome = (reason: string, evidence: readonly string[] = []): Outcome => ({ verdict: 'unknown', reason, evidence });

export type Dated<T> = T & { readonly at: TimePoint };

/**
 * screening: local dates from..to, both inclusive (§0 Baseline lab, [A] lookback).
 * pre-onset: strictly before the onset of liver failure (§1.1 E2), no lookback limit [A].
 */
export type LabWindow =
  | { readonly kind: 'screening'; readonly from: LocalDate; readonly to: LocalDate }
  | { readonly kind: 'pre-onset'; readonly onset: TimePoint; readonly onsetRef: string };

export interface EvalContext {
  readonly trial: Trial;
  readonly facts: EligibilityFacts;
  readonly timeZone: string;
  readonly screening: LocalDate;
  readonly window: LabWindow;
  /** Labs with a full date, any time; undated or partially dated results cannot be placed and are skipped. */
  readonly labs: readonly Dated<LabFact>[];
  readonly findings: readonly Dated<ClinicalFinding>[];
  readonly answers: readonly CodedFact[];
  readonly units: ItemUnits;
}

/** Builds the screening context; throws when the screening date is not a full FHIR date (a caller bug). */
export function screeningContext(trial: Trial, facts: EligibilityFacts, lookbackDays: number): EvalContext {
  const at = toTimePoint(facts.screeningDate, facts.timeZone);
  if (!at) throw new Error(`screeningDate is not a full FHIR date/dateTime: ${facts.screeningDate}`);
  if (!Number.isInteger(lookbackDays) || lookbackDays < 0) throw new Error(`screening lookback must be a whole number of days >= 0: ${lookbackDays}`);
  return {
    trial,
    facts,
    timeZone: facts.timeZone,
    screening: at.date,
    window: { kind: 'screening', from: addDays(at.date, -lookbackDays), to: at.date },
    labs: dated(facts.labs, (l) => l.effective, facts.timeZone),
    findings: dated(facts.findings ?? [], (f) => f.effective, facts.timeZone),
    answers: facts.answers ?? [],
    units: facts.units,
  };
}

function dated<T>(items: readonly T[], when: (t: T) => string, tz: string): Dated<T>[] {
  const out: Dated<T>[] = [];
  for (const item of items) {
    const at = toTimePoint(when(item), tz);
    if (at) out.push({ ...item, at });
  }
  return out;
}

/** Strictly before `onset`: an earlier date, or the same date with both instants known and earlier. */
export function isBefore(at: TimePoint, onset: TimePoint): boolean {
  if (at.date !== onset.date) return at.date < onset.date;
  return at.instant !== null && onset.instant !== null && at.instant < onset.instant;
}

export function inWindow(at: TimePoint, window: LabWindow): boolean {
  return window.kind === 'screening' ? at.date >= window.from && at.date <= window.to : isBefore(at, window.onset);
}

/** "in the screening window 2024-05-25..2024-06-01" / "before the onset on 2024-03-01". */
export function describeWindow(window: LabWindow): string {
  return window.kind === 'screening' ? `in the screening window ${window.from}..${window.to}` : `before the onset of liver failure on ${window.onset.date}`;
}

/** Later first: by date, then by instant (a date-only value sorts before a timed one the same day). */
export function laterFirst(a: TimePoint, b: TimePoint): number {
  if (a.date !== b.date) return a.date < b.date ? 1 : -1;
  if (a.instant === b.instant) return 0;
  if (a.instant === null || b.instant === null) return a.instant === null ? 1 : -1;
  return b.instant - a.instant;
}

export type Latest<T> =
  | { readonly kind: 'none' }
  | { readonly kind: 'one'; readonly value: Dated<T> }
  /** Several values at the same latest time that disagree: needs review. */
  | { readonly kind: 'conflict'; readonly values: readonly Dated<T>[] };

/** The latest of `items` (already filtered); same-time values that differ are a conflict. */
export function pickLatest<T>(items: readonly Dated<T>[], same: (a: T, b: T) => boolean): Latest<T> {
  if (items.length === 0) return { kind: 'none' };
  const sorted = [...items].sort((a, b) => laterFirst(a.at, b.at));
  const top = sorted.filter((x) => laterFirst(x.at, sorted[0].at) === 0);
  return top.every((x) => same(x, top[0])) ? { kind: 'one', value: top[0] } : { kind: 'conflict', values: top };
}

export type LabPick = Latest<LabFact>;

/** The lab value of `item` that counts in the context's window. */
export function pickLab(ctx: EvalContext, item: string): LabPick {
  const candidates = ctx.labs.filter((l) => l.item === item && inWindow(l.at, ctx.window));
  return pickLatest(candidates, (a, b) => a.value === b.value && a.unit === b.unit);
}

/** The clinician finding of `kind` that counts in the context's window. */
export function pickFinding<K extends FindingKind>(ctx: EvalContext, kind: K): Latest<Extract<ClinicalFinding, { kind: K }>> {
  const candidates = ctx.findings.filter((f): f is Dated<Extract<ClinicalFinding, { kind: K }>> => f.kind === kind && inWindow(f.at, ctx.window));
  return pickLatest(candidates, (a, b) => a.value === b.value);
}

/** Reason text for a pick that gave no single value. */
export function missingText(what: string, pick: Latest<unknown>, window: LabWindow): string {
  return pick.kind === 'conflict' ? `conflicting ${what} results at the same time ${describeWindow(window)}` : `no ${what} result ${describeWindow(window)}`;
}

export function refsOf(pick: Latest<{ readonly ref: string }>): string[] {
  if (pick.kind === 'one') return [pick.value.ref];
  return pick.kind === 'conflict' ? pick.values.map((v) => v.ref) : [];
}
