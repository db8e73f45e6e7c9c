/**
 * Arms of a trial file -> resolved arms, with the cross-checks that need only the arms:
 * unique ids and aliases, one dose per week, and a consistent two-stage design
 * (NCT05985863: the stage-1 MSC arm is re-randomised at Day 28 into MSC-short and
 * MSC-prolonged, clinical-reference §1.1).
 */
import type { ArmJson, DoseBlockJson, DoseJson } from './json';
import { BODY_WEIGHT_LOINC } from './defaults';
import { ptr, type Report } from './problems';
import type { Arm, DoseAmount, ScheduledDose, TrialDefaults } from './types';

/** Normalised form used to match ResearchSubject.assignedArm values. */
export function armKey(value: string): string {
  return value.trim().toLowerCase();
}

/** The arm named by a ResearchSubject.assignedArm value (id or alias, trimmed, case-insensitive). */
export function findArm(trial: { readonly arms: readonly Arm[] }, assignedArm: string | null | undefined): Arm | undefined {
  if (!assignedArm) return undefined;
  const key = armKey(assignedArm);
  return trial.arms.find((a) => armKey(a.id) === key || a.aliases.some((x) => armKey(x) === key));
}

export function buildArms(arms: readonly ArmJson[], defaults: TrialDefaults, report: Report): Arm[] {
  const built = arms.map((a, i) => buildArm(a, i, defaults, report));
  checkArmNames(arms, report);
  checkStages(arms, report);
  return built;
}

function buildArm(a: ArmJson, i: number, defaults: TrialDefaults, report: Report): Arm {
  return {
    id: a.id,
    aliases: a.aliases ?? [],
    label: a.label,
    registryLabel: a.registryLabel,
    role: a.role ?? null,
    stage: a.stage ?? null,
    from: a.from ?? null,
    rerandomisation: a.rerandomisation ? { week: a.rerandomisation.week, into: a.rerandomisation.into } : null,
    doses: buildDoses(a, i, defaults, report),
  };
}

function buildDoses(a: ArmJson, armIndex: number, defaults: TrialDefaults, report: Report): ScheduledDose[] {
  const byWeek = new Map<number, ScheduledDose>();
  a.doses.forEach((block, b) => {
    block.weeks.forEach((week, w) => {
      if (byWeek.has(week)) report(ptr('arms', armIndex, 'doses', b, 'weeks', w), `arm '${a.id}' already has a dose at week ${week}`);
      else byWeek.set(week, { week, product: block.product, amount: amountOf(block.dose, defaults), tolerance: block.tolerance ?? defaults.doseTolerance });
    });
    checkProduct(a, armIndex, block, b, report);
  });
  return [...byWeek.values()].sort((x, y) => x.week - y.week);
}

function amountOf(dose: DoseJson | undefined, defaults: TrialDefaults): DoseAmount | null {
  if (!dose) return null;
  if (dose.unit === '{cells}') return { kind: 'fixed', value: dose.value, unit: '{cells}' };
  return {
    kind: 'per-kg',
    value: dose.value,
    unit: '{cells}/kg',
    weightLoinc: dose.weightLoinc ?? BODY_WEIGHT_LOINC,
    weightWithinDaysBefore: dose.weightWithinDaysBefore ?? defaults.weightWithinDaysBefore,
  };
}

/** A placebo has no cells to count, and a masked dose exists only until re-randomisation tells which it is. */
function checkProduct(a: ArmJson, armIndex: number, block: DoseBlockJson, b: number, report: Report): void {
  const at = ptr('arms', armIndex, 'doses', b);
  if (block.product !== 'active' && block.dose) report(`${at}/dose`, `a ${block.product} dose has no amount to check; remove 'dose'`);
  if (block.product !== 'masked') return;
  const from = a.rerandomisation?.week;
  if (from === undefined) report(`${at}/product`, `'masked' doses belong to an arm that is re-randomised later (stage 1 with 'rerandomisation')`);
  else if (block.weeks.some((w) => w < from)) report(`${at}/weeks`, `'masked' doses must be at or after the re-randomisation week ${from}`);
}

/** Ids and aliases must name one arm each, or assignedArm would be ambiguous. */
function checkArmNames(arms: readonly ArmJson[], report: Report): void {
  const owner = new Map<string, string>();
  arms.forEach((a, i) => {
    const names: Array<[string, string]> = [[a.id, ptr('arms', i, 'id')], ...(a.aliases ?? []).map((x, j): [string, string] => [x, ptr('arms', i, 'aliases', j)])];
    for (const [name, at] of names) {
      const prev = owner.get(armKey(name));
      if (prev !== undefined) report(at, `arm id or alias '${name}' already names arm '${prev}'`);
      else owner.set(armKey(name), a.id);
    }
  });
}

function checkStages(arms: readonly ArmJson[], report: Report): void {
  const byId = new Map(arms.map((a) => [a.id, a] as const));
  arms.forEach((a, i) => {
    if (a.rerandomisation && a.stage !== 1) report(ptr('arms', i, 'stage'), `an arm with 'rerandomisation' must have stage 1`);
    a.rerandomisation?.into.forEach((id, j) => {
      const target = byId.get(id);
      if (!target) report(ptr('arms', i, 'rerandomisation', 'into', j), `unknown arm '${id}'`);
      else if (target.stage !== 2 || target.from !== a.id) report(ptr('arms', i, 'rerandomisation', 'into', j), `arm '${id}' must have stage 2 and from '${a.id}'`);
    });
    if (a.stage === 2) checkStage2(a, i, byId, report);
  });
}

function checkStage2(a: ArmJson, i: number, byId: ReadonlyMap<string, ArmJson>, report: Report): void {
  const parent = a.from === undefined ? undefined : byId.get(a.from);
  if (!parent) {
    report(ptr('arms', i, 'from'), a.from === undefined ? `a stage-2 arm must name the arm it comes from in 'from'` : `unknown arm '${a.from}'`);
    return;
  }
  if (!parent.rerandomisation?.into.includes(a.id)) report(ptr('arms', i, 'from'), `arm '${parent.id}' does not list '${a.id}' in rerandomisation.into`);
}
