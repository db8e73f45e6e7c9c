/**
 * Builds the subject report (pure): eligibility, Day 0, visits, doses, scores,
 * CRF values placed on visits, and flags, from one subject's FHIR resources and
 * CRF values. The offline `trialbridge evaluate` and the live evaluate-subject
 * job both call this, so they cannot disagree.
 */
import type { Condition, MedicationAdministration, Observation, Patient, Resource, ResearchSubject } from '@medplum/fhirtypes';
import type { ItemUnits, SourceQuantity } from '../../mapping';
import { ageOn, evaluateEligibility, type CodedFact, type EligibilityFacts, type WorkbenchAnswer } from '../eligibility';
import { evaluateSchedule, type ScheduleEvaluation } from '../schedule';
import { addDays, localDateOf, siteLocalTime, toTimePoint } from '../schedule/dates';
import { findArm, type Trial } from '../trials';
import { clinicalFindings, latestFinding } from './findings';
import { reportFlags } from './flags';
import { scoresAtVisit, type ScoreRow } from './scores-at-visits';
import type { OpenReview, ReportCrfValue, SubjectReport } from './types';

export type { OpenReview };

export interface CrfEntry {
  readonly form: string;
  readonly item: string;
  readonly value: number | string;
  readonly unit: string | null;
  readonly effective: string;
  /** `Observation/<id>`. */
  readonly source: string;
  readonly status: string;
  readonly code?: string;
  /** Database id, when the value is stored (visit assignments refer to it). */
  readonly id?: number;
  readonly referenceHigh?: { readonly value: number; readonly unit: string } | null;
  /** The value and unit the source resource gave (MappedValue.originalValue/originalUnit and code). */
  readonly original?: SourceQuantity | null;
}


export interface SubjectInput {
  readonly trial: Trial;
  readonly site: { readonly id: string; readonly timeZone: string };
  readonly subject: string;
  readonly patient: Patient | null;
  readonly researchSubject: ResearchSubject;
  /** The patient's other resources: MedicationAdministration, Condition, Observation (answers). */
  readonly resources: readonly Resource[];
  readonly crf: readonly CrfEntry[];
  /** The trial's CRF unit converter (src/mapping itemUnits). */
  readonly units: ItemUnits;
  readonly reviews: readonly OpenReview[];
  /** Evaluation date (FHIR date or dateTime). */
  readonly asOf: string;
  /** Investigators' workbench answers to judgement criteria, the latest per criterion. */
  readonly clinicianAnswers?: readonly WorkbenchAnswer[];
}

export interface BuiltReport {
  readonly report: SubjectReport;
  /** CRF value → visit placements (live path stores them). */
  readonly assignments: readonly { readonly visit: string; readonly item: string; readonly crfValueId: number; readonly placement: string }[];
}

function codedFacts(resources: readonly Resource[]): CodedFact[] {
  const out: CodedFact[] = [];
  for (const r of resources) {
    if (r.resourceType === 'Condition') {
      const c = r as Condition;
      out.push({
        resourceType: 'Condition', codings: (c.code?.coding ?? []).map((x) => ({ system: x.system ?? '', code: x.code ?? '' })),
        date: c.onsetDateTime ?? c.onsetPeriod?.start ?? c.recordedDate ?? null, status: c.clinicalStatus?.coding?.[0]?.code ?? null,
        verificationStatus: c.verificationStatus?.coding?.[0]?.code ?? null, ref: `Condition/${c.id}`,
      });
    } else if (r.resourceType === 'Observation') {
      const o = r as Observation;
      const value = o.valueBoolean !== undefined ? { kind: 'boolean' as const, value: o.valueBoolean }
        : o.valueCodeableConcept ? { kind: 'coding' as const, codings: (o.valueCodeableConcept.coding ?? []).map((x) => ({ system: x.system ?? '', code: x.code ?? '' })) }
        : o.valueDateTime ? { kind: 'dateTime' as const, value: o.valueDateTime } : null;
      out.push({
        resourceType: 'Observation', codings: (o.code?.coding ?? []).map((x) => ({ system: x.system ?? '', code: x.code ?? '' })),
        date: o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.issued ?? null, status: o.status, value, ref: `Observation/${o.id}`,
      });
    }
  }
  return out;
}

function eligibilityFacts(input: SubjectInput, screeningDate: string): EligibilityFacts {
  const p = input.patient;
  return {
    screeningDate,
    timeZone: input.site.timeZone,
    patient: { birthDate: p?.birthDate ?? null, gender: (p?.gender as EligibilityFacts['patient']['gender']) ?? null, ref: p?.id ? `Patient/${p.id}` : null },
    labs: input.crf.map((c) => ({ item: c.item, value: c.value, unit: c.unit, effective: c.effective, ref: c.source, referenceHigh: c.referenceHigh ?? null, source: c.original ?? null })),
    units: input.units,
    answers: codedFacts(input.resources),
    findings: clinicalFindings(input.resources),
    clinicianAnswers: input.clinicianAnswers ?? [],
  };
}

/** Places each CRF value on a visit: the schedule's assignment, or SCR before Day 0 exists (screening labs). */
function placeCrf(input: SubjectInput, sched: ScheduleEvaluation, screeningDate: string): ReportCrfValue[] {
  const tz = input.site.timeZone;
  const byRef = new Map(sched.kind === 'scheduled' ? sched.results.map((r) => [`${r.ref}|${r.item}`, r]) : []);
  const scrFrom = addDays(screeningDate, -input.trial.defaults.baselineWindowDays);
  return input.crf.map((c) => {
    let visit: string | null = null;
    let status = c.status;
    const a = byRef.get(`${c.source}|${c.item}`);
    if (a) {
      if (a.placement.kind === 'visit') {
        visit = a.placement.visit;
        if (!a.placement.selected) status = 'not-selected';
      } else status = a.placement.kind === 'unscheduled' ? (a.placement.outOfWindow ? 'out-of-window' : 'unscheduled') : 'excluded';
    } else if (sched.kind === 'no-day0') {
      const d = toTimePoint(c.effective, tz)?.date;
      if (d && d >= scrFrom && d <= screeningDate) visit = 'SCR';
    }
    return { visit, form: c.form, item: c.item, value: c.value, unit: c.unit, source: c.source, effective: c.effective, ...siteLocalTime(c.effective, tz), status };
  });
}

export function buildSubjectReport(input: SubjectInput): BuiltReport {
  const { trial, site } = input;
  const rs = input.researchSubject;
  const asOfDate = toTimePoint(input.asOf, site.timeZone)?.date ?? localDateOf(Date.now(), site.timeZone);
  const screeningDate = toTimePoint(rs.period?.start, site.timeZone)?.date ?? asOfDate;
  const eligibility = evaluateEligibility(trial, eligibilityFacts(input, screeningDate));
  const arm = findArm(trial, rs.assignedArm);
  const mas = input.resources.filter((r): r is MedicationAdministration => r.resourceType === 'MedicationAdministration');
  const sched: ScheduleEvaluation = arm
    ? evaluateSchedule({
        trial, arm, site, medicationAdministrations: mas, asOf: asOfDate, enrolment: rs.period?.start ?? null,
        death: input.patient?.deceasedDateTime ?? null,
        results: input.crf.filter((c) => typeof c.value === 'number').map((c) => ({ ref: c.source, item: c.item, effective: c.effective, code: c.code, value: c.value as number, unit: c.unit })),
      })
    : { kind: 'no-day0', skipped: [] };
  const crf = placeCrf(input, sched, screeningDate);
  const scores: ScoreRow[] = [];
  const visitsWithValues = [...new Set(crf.filter((c) => c.visit && c.status !== 'not-selected').map((c) => c.visit!))];
  const female = input.patient?.gender === 'female' ? true : input.patient?.gender === 'male' ? false : null;
  const findings = clinicalFindings(input.resources);
  const originals = new Map(input.crf.map((c) => [`${c.source}|${c.item}`, c.original ?? null]));
  for (const v of visitsWithValues) {
    const values = crf.filter((c) => c.visit === v && c.status !== 'not-selected');
    // Findings of the visit: the latest one dated in the 7 days up to the visit's last value (§0 baseline window).
    const last = values.map((c) => toTimePoint(c.effective, site.timeZone)?.date ?? '').sort().pop() ?? asOfDate;
    const from = addDays(last, -input.trial.defaults.baselineWindowDays);
    const within = (eff: string) => {
      const d = toTimePoint(eff, site.timeZone)?.date;
      return !!d && d >= from && d <= last;
    };
    const withSource = values.map((c) => ({ item: c.item, value: c.value, unit: c.unit, source: originals.get(`${c.source}|${c.item}`) ?? null }));
    scores.push(...scoresAtVisit(v, withSource, {
      female,
      dialysis: latestFinding(findings, 'dialysis', within)?.value ?? null,
      unrecordedDialysis: trial.defaults.meld.unrecordedDialysis,
      ascites: latestFinding(findings, 'ascites', within)?.value,
      encephalopathy: latestFinding(findings, 'encephalopathy', within)?.value,
      circulation: latestFinding(findings, 'circulation', within)?.value,
      respiration: latestFinding(findings, 'respiration', within)?.value,
      ageYears: ageOn(input.patient?.birthDate, last || asOfDate),
      units: input.units,
    }));
  }
  const resultDate = new Map(sched.kind === 'scheduled' ? sched.results.map((r) => [r.ref, r.at?.date ?? null]) : []);
  // The site-local date an administration actually happened (not its dose's target date).
  const administrationDate = new Map(mas.map((m) => [`MedicationAdministration/${m.id ?? '?'}`, toTimePoint(m.effectiveDateTime ?? m.effectivePeriod?.start, site.timeZone)?.date ?? null]));
  const visits = sched.kind === 'scheduled'
    ? sched.visits.map((v) => {
        const refs = v.status.kind === 'in-window' ? [...v.status.results, ...v.status.administrations] : v.status.kind === 'out-of-window' ? v.status.results : [];
        const dates = refs.map((r) => resultDate.get(r) ?? administrationDate.get(r) ?? null).filter((d): d is string => !!d).sort();
        return { visit: v.code, target: v.targetDate, windowStart: v.windowStart, windowEnd: v.windowEnd, actual: dates[0] ?? null, status: v.status.kind };
      })
    : [];
  const doses = sched.kind === 'scheduled'
    ? sched.doses.map((d) => {
        const st = d.status;
        const admin = 'administration' in st ? st.administration : null;
        const amount = st.kind === 'given' || st.kind === 'deviation' ? st.amount : null;
        const actual = amount && 'actual' in amount ? (amount as { actual: number }).actual : null;
        const unit = amount && 'unit' in amount ? (amount as { unit: string }).unit : null;
        return { visit: `W${d.week}`, status: st.kind, dose: actual, unit, source: admin };
      })
    : [];
  const report: SubjectReport = {
    trial: trial.key,
    subject: input.subject,
    patient: input.patient?.id ? `Patient/${input.patient.id}` : rs.individual?.reference ?? null,
    arm: arm?.id ?? rs.assignedArm ?? null,
    asOf: asOfDate,
    day0: sched.kind === 'scheduled' ? sched.day0.date : null,
    eligibility: { overall: eligibility.overall, criteria: eligibility.criteria.map((c) => ({ id: c.id, verdict: c.verdict, reason: c.reason, evidence: c.evidence })) },
    visits,
    doses,
    scores,
    crf,
    flags: reportFlags(eligibility, sched, input.reviews),
  };
  const ids = new Map(input.crf.filter((c) => c.id !== undefined).map((c) => [`${c.source}|${c.item}`, c.id!]));
  const assignments = crf.flatMap((c) => (c.visit && ids.has(`${c.source}|${c.item}`) ? [{ visit: c.visit, item: c.item, crfValueId: ids.get(`${c.source}|${c.item}`)!, placement: c.status }] : []));
  return { report, assignments };
}
