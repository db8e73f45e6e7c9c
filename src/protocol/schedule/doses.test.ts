/**
 * Dose checks (clinical-reference §6, §7.1-7.2): fixed 1.5x10^8 cells (NCT05985863),
 * cells/kg x body weight (ESLD), +/-10% tolerance [A] with inclusive edges, placebo
 * counted as a dose, the control arm's weeks 4/5 not-applicable, infusions < 5 days apart
 * flagged [A].
 */
import type { MedicationAdministration } from '@medplum/fhirtypes';
import { evaluateSchedule, type DoseOutcome, type ScheduleEvaluation } from './index';
import { cells, dayAt, infusion, input, result, trial } from './test-support';
import type { Trial } from '../trials';

const D0 = '2024-03-04';
const ACLF = trial('NCT05985863');
const ESLD = trial('ESLD-UCMSC-DOSE');

function run(t: Trial, armId: string, mas: MedicationAdministration[], extra: Parameters<typeof input>[2] = {}) {
  const e: ScheduleEvaluation = evaluateSchedule(input(t, armId, { medicationAdministrations: mas, ...extra }));
  if (e.kind !== 'scheduled') throw new Error('expected a schedule');
  return e;
}

const byWeek = (doses: readonly DoseOutcome[]) => Object.fromEntries(doses.map((d) => [d.week, d.status.kind]));
const weekly = (t: Trial, weeks: number[], dosage = cells(1.5e8)) => weeks.map((w) => infusion(t, dayAt(D0, 7 * w, '09:00:00'), { dosage }));

describe('NCT05985863 arms (§7.2)', () => {
  test('control: placebo at weeks 0-2 counted as given; weeks 4/5 not-applicable, never missed', () => {
    const e = run(ACLF, 'control', weekly(ACLF, [0, 1, 2], undefined));
    expect(byWeek(e.doses)).toEqual({ 0: 'given', 1: 'given', 2: 'given', 4: 'not-applicable', 5: 'not-applicable' });
    expect(e.doses[0].status).toEqual({ kind: 'given', administration: expect.any(String), amount: { kind: 'not-checked', reason: 'placebo' } });
    expect(e.doses[3].status).toEqual({ kind: 'not-applicable', reason: 'arm-has-no-dose' });
  });

  test('MSC-prolonged: MSC at weeks 0, 1, 2, 4, 5; a week without administration is missed once its window closed', () => {
    const e = run(ACLF, 'MSC-prolonged', weekly(ACLF, [0, 1, 2, 4]));
    expect(byWeek(e.doses)).toEqual({ 0: 'given', 1: 'given', 2: 'given', 4: 'given', 5: 'missed' });
    expect(e.doses[4].status).toEqual({ kind: 'missed', reason: 'window-closed', administration: null });
  });

  test('MSC-short: the week-4/5 placebo is a dose, amount not checked (blinded: the amount never reveals the arm)', () => {
    const e = run(ACLF, 'MSC-short', weekly(ACLF, [0, 1, 2, 4, 5]));
    expect(e.doses.map((d) => [d.week, d.product, d.status.kind === 'given' && d.status.amount.kind])).toEqual([
      [0, 'active', 'within-tolerance'], [1, 'active', 'within-tolerance'], [2, 'active', 'within-tolerance'], [4, 'placebo', 'not-checked'], [5, 'placebo', 'not-checked'],
    ]);
  });

  test('stage-1 MSC arm before re-randomisation: week-4/5 doses are expected, masked, not amount-checked', () => {
    const e = run(ACLF, 'MSC', weekly(ACLF, [0, 1, 2, 4]), { asOf: dayAt(D0, 33) });
    expect(e.doses.map((d) => [d.week, d.product, d.status.kind])).toEqual([[0, 'active', 'given'], [1, 'active', 'given'], [2, 'active', 'given'], [4, 'masked', 'given'], [5, 'masked', 'upcoming']]);
  });

  test.each([
    [1.5e8, '{cells}', 'given'],
    [1.65e8, '{cells}', 'given'], // +10% edge
    [1.35e8, '{cells}', 'given'], // -10% edge
    [1.6501e8, '{cells}', 'deviation'],
    [1.3499e8, '{cells}', 'deviation'],
    [1.5, '10*8{cells}', 'given'],
    [15, '10*7.{cells}', 'given'],
  ])('fixed dose: %d %s -> %s', (value, unit, kind) => {
    const e = run(ACLF, 'MSC-prolonged', [infusion(ACLF, dayAt(D0, 0), { dosage: cells(value, unit) })]);
    expect(e.doses[0].status.kind).toBe(kind);
  });

  test('a dose without an amount, or in another unit, is unverifiable (review), not a deviation', () => {
    const noDose = run(ACLF, 'MSC-prolonged', [infusion(ACLF, dayAt(D0, 0))]);
    const mL = run(ACLF, 'MSC-prolonged', [infusion(ACLF, dayAt(D0, 0), { dosage: cells(100, 'mL') })]);
    expect(noDose.doses[0].status).toMatchObject({ kind: 'given', amount: { kind: 'unverifiable', reason: 'dose-not-recorded' } });
    expect(mL.doses[0].status).toMatchObject({ kind: 'given', amount: { kind: 'unverifiable', reason: 'dose-unit-not-cells' } });
  });
});

describe('ESLD per-kg dose (§1.2): cells/kg x latest weight within 7 days before', () => {
  const weight = (kg: number, day = -1, unit = 'kg') => result('WEIGHT', dayAt(D0, day, '07:00:00'), { code: '29463-7', value: kg, unit });

  test.each([
    ['low-dose', 6.25e7, 6.25e7, 'given'],
    ['low-dose', 6.875e7, 6.25e7, 'given'], // +10% edge
    ['low-dose', 5.625e7, 6.25e7, 'given'], // -10% edge
    ['low-dose', 6.876e7, 6.25e7, 'deviation'],
    ['low-dose', 5.624e7, 6.25e7, 'deviation'],
    ['medium-high-dose', 1.875e8, 1.875e8, 'given'],
    ['medium-high-dose', 2.0625e8, 1.875e8, 'given'], // +10% edge
    ['medium-high-dose', 1.6875e8, 1.875e8, 'given'], // -10% edge
    ['medium-high-dose', 2.063e8, 1.875e8, 'deviation'],
    ['medium-high-dose', 6.25e7, 1.875e8, 'deviation'], // low dose given to the medium-high arm
  ])('62.5 kg, %s: %d cells given, %d expected -> %s', (armId, given, expected, kind) => {
    const e = run(ESLD, armId, [infusion(ESLD, dayAt(D0, 0, '09:00:00'), { dosage: cells(given) })], { results: [weight(62.5)] });
    const status = e.doses[0].status;
    expect(status.kind).toBe(kind);
    if (status.kind === 'given' || status.kind === 'deviation') {
      expect(status.amount).toMatchObject({ expected, actual: given, unit: '{cells}', weight: { kg: 62.5 } });
      if (status.amount.kind !== 'within-tolerance' && status.amount.kind !== 'out-of-tolerance') throw new Error('not compared');
      expect(status.amount.expected).toBeCloseTo(expected, 6);
    }
  });

  test.each([
    [-7, 'within-tolerance'],
    [-8, 'unverifiable'],
    [0, 'within-tolerance'], // weighed at 07:00, infused at 09:00
  ])('weight on study day %i -> %s', (day, kind) => {
    const e = run(ESLD, 'low-dose', [infusion(ESLD, dayAt(D0, 0, '09:00:00'), { dosage: cells(6.25e7) })], { results: [weight(62.5, day)] });
    expect(e.doses[0].status).toMatchObject({ kind: 'given', amount: { kind } });
  });

  test('the latest weight wins; a weight without a kg unit is not used', () => {
    const e = run(ESLD, 'low-dose', [infusion(ESLD, dayAt(D0, 0, '09:00:00'), { dosage: cells(6.25e7) })], { results: [weight(80, -5), weight(62.5, -2), weight(70, -1, '[lb_av]')] });
    expect(e.doses[0].status).toMatchObject({ kind: 'given', amount: { kind: 'within-tolerance', weight: { kg: 62.5 } } });
  });

  test('a dose sent per kg is compared per kg, no weight needed', () => {
    const e = run(ESLD, 'medium-high-dose', [infusion(ESLD, dayAt(D0, 0), { dosage: cells(3e6, '{cells}/kg') })]);
    expect(e.doses[0].status).toMatchObject({ kind: 'given', amount: { kind: 'within-tolerance', expected: 3e6, actual: 3e6, unit: '{cells}/kg' } });
  });
});

describe('administration status and timing (§6)', () => {
  test.each([
    ['not-done', { kind: 'missed', reason: 'not-done' }],
    ['stopped', { kind: 'partial' }],
    ['on-hold', { kind: 'needs-review', status: 'on-hold' }],
  ] as const)('week-1 administration %s -> %o', (status, expected) => {
    const e = run(ACLF, 'MSC-prolonged', [...weekly(ACLF, [0]), infusion(ACLF, dayAt(D0, 7), { status })]);
    expect(e.doses[1].status).toMatchObject(expected);
  });

  test('a not-done record and a later completed one in the same window: the completed one counts', () => {
    const e = run(ACLF, 'MSC-prolonged', [...weekly(ACLF, [0]), infusion(ACLF, dayAt(D0, 7), { status: 'not-done' }), infusion(ACLF, dayAt(D0, 8), { dosage: cells(1.5e8) })]);
    expect(e.doses[1].status.kind).toBe('given');
  });

  test('window open, nothing yet -> upcoming; death before the week-4 window -> not-applicable', () => {
    const open = run(ACLF, 'MSC-prolonged', weekly(ACLF, [0, 1, 2]), { asOf: dayAt(D0, 27) });
    expect(byWeek(open.doses)).toMatchObject({ 4: 'upcoming', 5: 'upcoming' });
    const dead = run(ACLF, 'MSC-prolonged', weekly(ACLF, [0, 1, 2]), { death: dayAt(D0, 20) });
    expect(dead.doses[3].status).toEqual({ kind: 'not-applicable', reason: 'death' });
  });

  test.each([
    [4, true],
    [5, false],
    [0, true],
  ])('two infusions %i calendar days apart -> flagged: %p', (days, flagged) => {
    const e = run(ACLF, 'MSC-prolonged', [infusion(ACLF, dayAt(D0, 0, '23:00:00')), infusion(ACLF, dayAt(D0, days, '01:00:00'))]);
    const flags = e.flags.filter((f) => f.kind === 'short-interval');
    expect(flags).toEqual(flagged ? [{ kind: 'short-interval', first: expect.any(String), second: expect.any(String), days, minimumDays: 5 }] : []);
  });

  test('infusions outside every dose window, or a second one for a given dose, are flagged', () => {
    const extra = infusion(ACLF, dayAt(D0, 1));
    const stray = infusion(ACLF, dayAt(D0, 20));
    const e = run(ACLF, 'MSC-prolonged', [...weekly(ACLF, [0]), extra, stray]);
    expect(e.flags).toEqual(
      expect.arrayContaining([
        { kind: 'extra-administration', administration: `MedicationAdministration/${extra.id}`, studyDay: 1 },
        { kind: 'unscheduled-administration', administration: `MedicationAdministration/${stray.id}`, studyDay: 20 },
      ]),
    );
  });

  test('NCT02812121: MSC-1 doses weekly x 8, amount not configured; MSC-2 has no week 4-7 dose', () => {
    const t = trial('NCT02812121');
    const msc1 = run(t, 'Group MSC-1', weekly(t, [0, 1, 2, 3, 4, 5, 6, 7], undefined));
    expect(msc1.doses.every((d) => d.status.kind === 'given' && d.status.amount.kind === 'not-checked')).toBe(true);
    expect(byWeek(run(t, 'MSC-2', weekly(t, [0, 1, 2, 3])).doses)).toEqual({ 0: 'given', 1: 'given', 2: 'given', 3: 'given', 4: 'not-applicable', 5: 'not-applicable', 6: 'not-applicable', 7: 'not-applicable' });
  });
});
