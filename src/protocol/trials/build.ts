/**
 * One schema-valid trial file -> an immutable Trial. Cross-checks report through
 * `report` and building carries on, so a single load lists every problem (design.md
 * habit 2); the caller throws if anything was reported.
 */
import { buildArms } from './build-arms';
import { buildVisits } from './build-visits';
import type { Criterion, CriterionRule } from './criteria';
import { DEFAULT_EXPORT_VALUES, TRIAL_DEFAULTS } from './defaults';
import type { DefaultsJson, TrialFileJson } from './json';
import { ptr, type Report } from './problems';
import type { StudyDrugConfig, Trial, TrialDefaults } from './types';

export function buildTrial(json: TrialFileJson, file: string, report: Report): Trial {
  const defaults = resolveDefaults(json.defaults);
  checkCriteria(json.eligibility, report);
  const trial: Trial = {
    key: json.key,
    registryId: json.registryId ?? null,
    title: json.title,
    summary: json.summary,
    file,
    unknowns: json.unknowns ?? [],
    defaults,
    studyDrug: studyDrugOf(json),
    arms: buildArms(json.arms, defaults, report),
    visits: buildVisits(json.visits, json.arms, defaults, report),
    crfUnits: { ...json.crfUnits },
    eligibility: json.eligibility,
    export: { values: json.export?.values ?? DEFAULT_EXPORT_VALUES },
  };
  // A private copy, so freezing never touches the caller's parsed JSON.
  return deepFreeze(structuredClone(trial));
}

/** File values over TRIAL_DEFAULTS, property by property [A]. */
export function resolveDefaults(d: DefaultsJson | undefined): TrialDefaults {
  const base = TRIAL_DEFAULTS;
  return {
    doseTolerance: d?.doseTolerance ?? base.doseTolerance,
    minInfusionIntervalDays: d?.minInfusionIntervalDays ?? base.minInfusionIntervalDays,
    baselineWindowDays: d?.baselineWindowDays ?? base.baselineWindowDays,
    weightWithinDaysBefore: d?.weightWithinDaysBefore ?? base.weightWithinDaysBefore,
    windows: {
      infusion: d?.windows?.infusion ?? base.windows.infusion,
      byWeek: d?.windows?.byWeek?.map((b) => ({ fromWeek: b.fromWeek, toWeek: b.toWeek ?? null, days: b.days })) ?? base.windows.byWeek,
    },
    meld: { unrecordedDialysis: d?.meld?.unrecordedDialysis ?? base.meld.unrecordedDialysis },
  };
}

function studyDrugOf(json: TrialFileJson): StudyDrugConfig {
  return {
    codes: json.studyDrug.codes,
    siteOverrides: json.studyDrug.siteOverrides ?? {},
    researchStudyIds: json.studyDrug.researchStudyIds ?? [],
  };
}

/** Unique ids (clinical-reference §1 ids), an id prefix matching the type, ranges that can hold. */
function checkCriteria(criteria: readonly Criterion[], report: Report): void {
  const seen = new Set<string>();
  criteria.forEach((c, i) => {
    if (seen.has(c.id)) report(ptr('eligibility', i, 'id'), `criterion id '${c.id}' is already defined`);
    seen.add(c.id);
    const expected = c.type === 'inclusion' ? 'I' : 'E';
    if (!c.id.startsWith(expected)) report(ptr('eligibility', i, 'id'), `an ${c.type} criterion id starts with '${expected}'`);
    checkRule(c.rule, ptr('eligibility', i, 'rule'), report);
  });
}

function checkRule(rule: CriterionRule, at: string, report: Report, inPreOnset = false): void {
  switch (rule.kind) {
    case 'age-range':
      if (rule.min > rule.max) report(at, `min ${rule.min} is above max ${rule.max}`);
      return;
    case 'score-range':
      if (rule.min !== undefined && rule.max !== undefined && rule.min > rule.max) report(at, `min ${rule.min} is above max ${rule.max}`);
      return;
    case 'any-of':
    case 'all-of':
      rule.rules.forEach((r, j) => checkRule(r, `${at}/rules/${j}`, report, inPreOnset));
      return;
    case 'pre-onset':
      if (inPreOnset) report(at, `a pre-onset rule cannot nest another pre-onset rule`);
      checkRule(rule.rule, `${at}/rule`, report, true);
      return;
    case 'lab-threshold':
    case 'hbsag-duration':
    case 'tbil-uln-multiple':
    case 'judgement':
      return;
  }
}

/** Freezes plain objects and arrays recursively. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
