/**
 * Age in completed years on the screening date, ranges inclusive (clinical-reference §0
 * Age [A]): for 18-70, 70 y 364 d is eligible and 71 y 0 d is not.
 *
 * A birthday is reached when the (month, day) of the screening date is at or after the
 * (month, day) of birth, so someone born on 29 February turns a year older on 1 March in
 * common years [A]. A partial birthDate (YYYY or YYYY-MM, allowed by FHIR) gives a range
 * of possible ages; the verdict stands only when every possible age agrees. The birth
 * date itself never appears in the reason (design.md habit 9: no dates of birth).
 */
import type { AgeRangeRule } from '../trials';
import type { EvalContext, Outcome } from './context';

interface Ymd {
  readonly y: number;
  readonly m: number;
  readonly d: number;
}

const PARTIAL_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** The earliest and latest birth date a FHIR date may mean, or null when it is not a real date. */
export function birthBounds(birthDate: string): { readonly earliest: Ymd; readonly latest: Ymd } | null {
  const match = PARTIAL_DATE.exec(birthDate.trim());
  if (!match) return null;
  const y = Number(match[1]);
  const m = match[2] === undefined ? null : Number(match[2]);
  const d = match[3] === undefined ? null : Number(match[3]);
  if (m !== null && (m < 1 || m > 12)) return null;
  if (m !== null && d !== null && (d < 1 || d > daysInMonth(y, m))) return null;
  const mLo = m ?? 1;
  const mHi = m ?? 12;
  return { earliest: { y, m: mLo, d: d ?? 1 }, latest: { y, m: mHi, d: d ?? daysInMonth(y, mHi) } };
}

/** Completed years from `birth` to `on`. */
export function completedYears(birth: Ymd, on: Ymd): number {
  const reached = on.m > birth.m || (on.m === birth.m && on.d >= birth.d);
  return on.y - birth.y - (reached ? 0 : 1);
}

/**
 * Completed years of a patient on a local date, or null when the birth date is missing,
 * invalid, later than `on`, or too partial to give one age (score inputs, §5 CLIF-C ACLF).
 */
export function ageOn(birthDate: string | null | undefined, on: string): number | null {
  const bounds = birthDate ? birthBounds(birthDate) : null;
  if (!bounds) return null;
  const oldest = completedYears(bounds.earliest, ymd(on));
  const youngest = completedYears(bounds.latest, ymd(on));
  return oldest === youngest && youngest >= 0 ? youngest : null;
}

function ymd(date: string): Ymd {
  const [y, m, d] = date.split('-').map(Number);
  return { y, m, d };
}

/** `min <= age <= max` in completed years on the screening date. */
export function evaluateAgeRange(ctx: EvalContext, rule: AgeRangeRule): Outcome {
  const { birthDate, ref } = ctx.facts.patient;
  const evidence = ref ? [ref] : [];
  const range = `${rule.min}-${rule.max} years`;
  if (!birthDate) return { verdict: 'unknown', reason: `birthDate not recorded; age ${range} cannot be checked`, evidence };
  const bounds = birthBounds(birthDate);
  if (!bounds) return { verdict: 'unknown', reason: `birthDate is not a valid FHIR date; age ${range} cannot be checked`, evidence };
  const on = ymd(ctx.screening);
  const oldest = completedYears(bounds.earliest, on);
  const youngest = completedYears(bounds.latest, on);
  if (youngest < 0) return { verdict: 'unknown', reason: `birthDate is after the screening date ${ctx.screening}`, evidence };
  const inRange = (a: number) => a >= rule.min && a <= rule.max;
  const age = oldest === youngest ? `age ${oldest}` : `age ${youngest}-${oldest} (partial birthDate)`;
  const text = `${age} completed years on ${ctx.screening}`;
  if (inRange(oldest) && inRange(youngest)) return { verdict: 'met', reason: `${text}: within ${range}`, evidence };
  if (oldest < rule.min || youngest > rule.max) return { verdict: 'not-met', reason: `${text}: outside ${range}`, evidence };
  return { verdict: 'unknown', reason: `${text}: may or may not be within ${range}`, evidence };
}
