/**
 * Visit windows, statuses and result assignment (clinical-reference §6): window edges
 * are inclusive, the day after is out of window, Day 0 anchors every target, the tie
 * rules go to the earlier visit, death/transplant end the schedule.
 */
import { trialFromJson } from '../trials';
import { evaluateSchedule, type ScheduleEvaluation } from './index';
import { dayAt, infusion, input, result, trial } from './test-support';

const D0 = '2024-03-04';
const ACLF = trial('NCT05985863');

function scheduled(e: ScheduleEvaluation) {
  if (e.kind !== 'scheduled') throw new Error('expected a schedule');
  return e;
}

function run(armId: string, results: ReturnType<typeof result>[], extra: Parameters<typeof input>[2] = {}) {
  return scheduled(evaluateSchedule(input(ACLF, armId, { medicationAdministrations: [infusion(ACLF, dayAt(D0, 0, '09:00:00'))], results, ...extra })));
}

const statusOf = (e: ReturnType<typeof run>, code: string) => e.visits.find((v) => v.code === code)!.status;

describe('window edges (§6 [A] defaults): target +/- window is in window, one day more is out', () => {
  test.each([
    // visit, study day, expected status: W1..W3 +/-2, W8 +/-3, W12/W48 +/-7
    ['W1', 7 - 2, 'in-window'], ['W1', 7 + 2, 'in-window'], ['W1', 7 - 3, 'out-of-window'], ['W1', 7 + 3, 'out-of-window'],
    ['W3', 21 - 2, 'in-window'], ['W3', 21 + 2, 'in-window'], ['W3', 21 + 3, 'out-of-window'], ['W3', 21 - 3, 'out-of-window'],
    ['W4', 28 + 2, 'in-window'], ['W4', 28 + 3, 'out-of-window'], // infusion week for the MSC arms -> +/-2
    ['W8', 56 - 3, 'in-window'], ['W8', 56 + 3, 'in-window'], ['W8', 56 - 4, 'out-of-window'], ['W8', 56 + 4, 'out-of-window'],
    ['W12', 84 - 7, 'in-window'], ['W12', 84 + 7, 'in-window'], ['W12', 84 + 8, 'out-of-window'], ['W12', 84 - 8, 'out-of-window'],
    ['W48', 336 + 7, 'in-window'], ['W48', 336 + 8, 'out-of-window'],
  ])('%s, result on study day %i -> %s', (code, day, expected) => {
    const r = result('INR', dayAt(D0, day));
    const e = run('MSC-prolonged', [r]);
    expect(statusOf(e, code).kind).toBe(expected);
    const placement = e.results[0].placement;
    if (expected === 'in-window') expect(placement).toEqual({ kind: 'visit', visit: code, selected: true });
    else expect(placement).toEqual({ kind: 'unscheduled', nearestVisit: code, outOfWindow: true });
  });

  test('targets are anchored to Day 0, not to the previous visit', () => {
    const e = run('MSC-prolonged', [result('INR', dayAt(D0, 9))]);
    expect(e.visits.find((v) => v.code === 'W2')!.targetDate).toBe('2024-03-18');
    expect(e.visits.find((v) => v.code === 'W48')!.targetDate).toBe('2025-02-03');
  });
});

describe('statuses', () => {
  test('window still open at asOf -> upcoming, and an early result is not flagged yet', () => {
    const e = run('MSC-prolonged', [result('INR', dayAt(D0, 50))], { asOf: dayAt(D0, 54) });
    expect(statusOf(e, 'W8').kind).toBe('upcoming');
    expect(e.results[0].placement).toEqual({ kind: 'unscheduled', nearestVisit: 'W8', outOfWindow: false });
  });

  test('window closed with nothing -> missed', () => {
    expect(statusOf(run('MSC-prolonged', [], { asOf: dayAt(D0, 60) }), 'W8').kind).toBe('missed');
  });

  test('control arm has no W5 visit: not-applicable, never missed', () => {
    const e = run('control', []);
    expect(statusOf(e, 'W5')).toEqual({ kind: 'not-applicable', reason: 'not-in-arm' });
    expect(statusOf(run('MSC-short', []), 'W5').kind).toBe('missed');
  });

  test.each([
    ['death', { death: dayAt(D0, 50) }],
    ['transplant', { transplant: dayAt(D0, 50) }],
  ])('%s before week 8: W8 and later are not-applicable; earlier visits keep their status', (reason, extra) => {
    const e = run('MSC-prolonged', [result('INR', dayAt(D0, 7))], extra);
    for (const code of ['W8', 'W12', 'W24', 'W48']) expect(statusOf(e, code)).toEqual({ kind: 'not-applicable', reason });
    expect(statusOf(e, 'W1').kind).toBe('in-window');
    expect(statusOf(e, 'W3').kind).toBe('missed');
  });

  test('death inside an open window with a result before it: in-window', () => {
    const e = run('MSC-prolonged', [result('INR', dayAt(D0, 54))], { death: dayAt(D0, 55) });
    expect(statusOf(e, 'W8').kind).toBe('in-window');
  });

  test('results after a transplant are excluded from the schedule, never flagged', () => {
    const e = run('MSC-prolonged', [result('INR', dayAt(D0, 100))], { transplant: dayAt(D0, 60) });
    expect(e.results[0].placement).toEqual({ kind: 'excluded', reason: 'after-end-of-schedule' });
  });

  test('an infusion in the window makes the visit happen even without labs', () => {
    const e = scheduled(evaluateSchedule(input(ACLF, 'MSC-prolonged', { medicationAdministrations: [infusion(ACLF, dayAt(D0, 0)), infusion(ACLF, dayAt(D0, 8))] })));
    expect(statusOf(e, 'W1')).toEqual({ kind: 'in-window', results: [], administrations: [expect.stringMatching(/^MedicationAdministration\//)] });
  });
});

describe('assignment (§6): nearest target, ties to the earlier visit; closest result per item', () => {
  test('a result equidistant from W4 (day 28) and W8 (day 56), outside both: nearest is the earlier W4', () => {
    const e = run('control', [result('TBIL', dayAt(D0, 42))]); // control: no W5 between them
    expect(e.results[0].placement).toEqual({ kind: 'unscheduled', nearestVisit: 'W4', outOfWindow: true });
    expect(statusOf(e, 'W4')).toEqual({ kind: 'out-of-window', results: [e.results[0].ref] });
    expect(statusOf(e, 'W8').kind).toBe('missed');
  });

  test('overlapping custom windows: a day equidistant from two targets goes to the earlier visit', () => {
    const t = trialFromJson(customTrial({ W2: 7, W4: 7 }));
    const e = scheduled(evaluateSchedule(input(t, 'A', { medicationAdministrations: [infusion(t, dayAt(D0, 0))], results: [result('INR', dayAt(D0, 21))] })));
    expect(e.results[0].placement).toEqual({ kind: 'visit', visit: 'W2', selected: true });
  });

  test.each([
    ['closest to target wins', [9, 5, 8], 8],
    ['equal distance: the earlier result', [8, 6], 6],
    ['same day: the earlier time', [7, 7], 7],
  ])('several INR in the W1 window: %s', (_name, days, selectedDay) => {
    const rs = days.map((d, i) => result('INR', dayAt(D0, d, `1${i}:00:00`)));
    const e = run('MSC-prolonged', rs);
    const selected = e.results.filter((r) => r.placement.kind === 'visit' && r.placement.selected);
    expect(selected).toHaveLength(1);
    expect(selected[0].studyDay).toBe(selectedDay);
    if (days[0] === days[1]) expect(selected[0].ref).toBe(rs[0].ref);
  });

  test('each item is selected on its own', () => {
    const e = run('MSC-prolonged', [result('INR', dayAt(D0, 6)), result('TBIL', dayAt(D0, 9))]);
    expect(e.results.map((r) => r.placement)).toEqual([{ kind: 'visit', visit: 'W1', selected: true }, { kind: 'visit', visit: 'W1', selected: true }]);
  });

  test('an out-of-window result is not flagged when its nearest visit has an in-window result', () => {
    const e = run('MSC-prolonged', [result('INR', dayAt(D0, 7)), result('TBIL', dayAt(D0, 10))]);
    expect(statusOf(e, 'W1').kind).toBe('in-window');
    expect(e.results[1].placement).toEqual({ kind: 'unscheduled', nearestVisit: 'W1', outOfWindow: false });
  });

  test('baseline (SCR): Day -7 up to the infusion start; the latest per item; earlier is unscheduled', () => {
    const rs = [result('TBIL', dayAt(D0, -8)), result('TBIL', dayAt(D0, -7)), result('TBIL', dayAt(D0, -1)), result('TBIL', `${D0}T08:00:00+08:00`), result('TBIL', `${D0}T10:00:00+08:00`)];
    const e = run('MSC-prolonged', rs);
    expect(e.results.map((r) => r.placement)).toEqual([
      { kind: 'unscheduled', nearestVisit: 'SCR', outOfWindow: false },
      { kind: 'visit', visit: 'SCR', selected: false },
      { kind: 'visit', visit: 'SCR', selected: false },
      { kind: 'visit', visit: 'SCR', selected: true }, // 08:00, before the 09:00 infusion
      { kind: 'visit', visit: 'W0', selected: true }, // 10:00, after it
    ]);
  });

  test('a partial date cannot be placed on a study day', () => {
    expect(run('MSC-prolonged', [result('TBIL', '2024-03')]).results[0].placement).toEqual({ kind: 'excluded', reason: 'imprecise-date' });
  });
});

describe('trials with an unknown schedule (NCT03945487, §1.4)', () => {
  test('only SCR is planned; later results are unscheduled without a flag', () => {
    const t = trial('NCT03945487');
    const e = scheduled(evaluateSchedule(input(t, 'UC-MSC+CT', { medicationAdministrations: [infusion(t, dayAt(D0, 0))], results: [result('ALB', dayAt(D0, -2)), result('ALB', dayAt(D0, 30))] })));
    expect(e.visits.map((v) => [v.code, v.status.kind])).toEqual([['SCR', 'in-window']]);
    expect(e.results[1].placement).toEqual({ kind: 'unscheduled', nearestVisit: null, outOfWindow: false });
    expect(e.doses).toEqual([]);
    expect(e.flags).toEqual([]);
  });

  test('an arm without study drug takes Day 0 from the enrolment date [A]', () => {
    const t = trial('NCT02812121');
    const e = scheduled(evaluateSchedule(input(t, 'Group Control', { enrolment: D0 })));
    expect(e.day0).toEqual({ kind: 'enrolment', date: D0, at: { date: D0, instant: null } });
    expect(evaluateSchedule(input(t, 'Group Control', {})).kind).toBe('no-day0');
  });
});

function customTrial(windows: Record<string, number>) {
  return {
    key: 'TEST-TIES',
    title: 'ties',
    summary: 'test trial',
    studyDrug: { codes: [{ system: 'urn:trialbridge:study-drug', code: 'X' }] },
    arms: [{ id: 'A', label: 'A', registryLabel: 'A', doses: [{ weeks: [0], product: 'active' }] }],
    visits: [{ code: 'SCR' }, { code: 'W0', week: 0 }, ...Object.entries(windows).map(([code, days]) => ({ code, week: Number(code.slice(1)), window: { before: days, after: days } }))],
    crfUnits: {},
    eligibility: [{ id: 'I1', type: 'inclusion', text: 't', source: 't', rule: { kind: 'age-range', min: 18, max: 70 } }],
  };
}
