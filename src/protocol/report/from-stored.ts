/**
 * Live input: a subject's stored data (shape of store/subject-data.ts, declared
 * here structurally so protocol/ never imports store/) turned into the report
 * builder's input.
 */
import type { Observation, Patient, Resource, ResearchSubject } from '@medplum/fhirtypes';
import type { TrialSet } from '../trials';
import type { SubjectInput } from './build';
import { referenceHigh } from './from-resources';

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
  }[];
  readonly reviews: readonly { reason: string; detail: string; source: string }[];
}

/** Turns stored data into the report builder's input. */
export function reportInput(deps: { trials: TrialSet; timeZoneOf: (site: string) => string }, data: StoredSubject, asOf: string): SubjectInput | null {
  const trial = deps.trials.get(data.trial);
  if (!trial) return null;
  const observations = new Map(data.resources.filter((r) => r.resourceType === 'Observation').map((r) => [`Observation/${r.id}`, r as Observation]));
  return {
    trial,
    site: { id: data.site, timeZone: deps.timeZoneOf(data.site) },
    subject: data.subject,
    patient: data.patient,
    researchSubject: data.researchSubject,
    resources: data.resources,
    crf: data.crf.map((c) => {
      const o = observations.get(c.source.reference);
      return { id: c.id, form: c.form, item: c.item, value: c.value, unit: c.unit, effective: c.effective, source: c.source.reference, status: c.status, code: c.code, referenceHigh: o ? referenceHigh(o) : null };
    }),
    reviews: data.reviews,
    asOf,
  };
}

