/**
 * Live input: a subject's stored data (shape of store/subject-data.ts, declared
 * here structurally so protocol/ never imports store/) turned into the report
 * builder's input.
 */
import type { Observation, Patient, Resource, ResearchSubject } from '@medplum/fhirtypes';
import { itemUnits, type MappingSet } from '../../mapping';
import type { TrialSet } from '../trials';
import type { SubjectInput } from './build';
import { referenceHigh } from './from-resources';
import { attributeStudies, resolvedStudies } from '../study-ref';

export interface StoredSubject {
  readonly site: string;
  readonly trial: string;
  readonly subject: string;
  readonly patient: Patient | null;
  readonly researchSubject: ResearchSubject;
  readonly resources: readonly Resource[];
  readonly crf: readonly {
    id: number; form: string; item: string; value: number | string; unit: string | null; effective: string;
    source: { reference: string }; status: string; code: string;
    originalValue?: number | string; originalUnit?: string | null;
  }[];
  readonly reviews: readonly { reason: string; detail: string; source: string }[];
  /** The site's ResearchStudy ids that name a trial (id → trial key), for study drug named by reference. */
  readonly studies?: Readonly<Record<string, string>>;
  /** Investigators' workbench answers, the latest per criterion (store/answers.ts). */
  readonly clinicianAnswers?: readonly { criterion: string; answer: 'met' | 'not-met' | 'not-applicable'; at: string; by: string }[];
}

/** Turns stored data into the report builder's input. */
export function reportInput(deps: { trials: TrialSet; mappings: MappingSet; timeZoneOf: (site: string) => string }, data: StoredSubject, asOf: string): SubjectInput | null {
  const trial = deps.trials.get(data.trial);
  if (!trial) return null;
  const observations = new Map(data.resources.filter((r) => r.resourceType === 'Observation').map((r) => [`Observation/${r.id}`, r as Observation]));
  return {
    trial,
    site: { id: data.site, timeZone: deps.timeZoneOf(data.site) },
    subject: data.subject,
    patient: data.patient,
    researchSubject: data.researchSubject,
    resources: data.studies ? attributeStudies(data.resources, resolvedStudies(data.studies)) : data.resources,
    crf: data.crf.map((c) => {
      const o = observations.get(c.source.reference);
      const original = c.originalValue === undefined ? null : { value: c.originalValue, unit: c.originalUnit ?? null, code: c.code };
      return { id: c.id, form: c.form, item: c.item, value: c.value, unit: c.unit, effective: c.effective, source: c.source.reference, status: c.status, code: c.code, referenceHigh: o ? referenceHigh(o) : null, original };
    }),
    units: itemUnits(deps.mappings, trial.key),
    reviews: data.reviews,
    asOf,
    clinicianAnswers: (data.clinicianAnswers ?? []).map((a) => ({ criterion: a.criterion, answer: a.answer, at: a.at, by: a.by })),
  };
}

