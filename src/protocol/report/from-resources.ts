/**
 * Offline input: the subjects of one trial found in a set of FHIR resources
 * (a Bundle or NDJSON file), with their CRF values computed by the same
 * mapping rules the worker applies. Pure: the caller reads the file.
 */
import type { Observation, Patient, Resource, ResearchStudy, ResearchSubject } from '@medplum/fhirtypes';
import { itemUnits, mapResource, type MappingSet } from '../../mapping';
import { patientOf } from '../references';
import { parseResearchSubject } from '../research-subject';
import { attributeStudies, studyIdentifiers, trialNamer, type StudyAliases, type StudyContext } from '../study-ref';
import type { Trial } from '../trials';
import type { CrfEntry, OpenReview, SubjectInput } from './build';

export interface Located {
  readonly resource: Resource;
  readonly context: Record<string, unknown> | null;
}

/** referenceRange.high of an Observation, for the 10×ULN rule (clinical-reference §1.3 I1a). */
export function referenceHigh(o: Observation): CrfEntry['referenceHigh'] {
  const h = o.referenceRange?.find((r) => r.high?.value !== undefined)?.high;
  const unit = h?.code ?? h?.unit;
  return h?.value !== undefined && unit ? { value: h.value, unit } : null;
}

/**
 * The trial's subjects in `items`. Studies are resolved as the worker does:
 * ResearchSubject.study and the workflow-researchStudy extension may name a
 * ResearchStudy of the file by reference, in any order, and `studyAliases`
 * are the site's local identifiers of a trial (TRIALBRIDGE_SITES).
 */
export function subjectsFromResources(
  trial: Trial, mappings: MappingSet, site: { id: string; timeZone: string }, items: readonly Located[], asOf: string,
  opts: { studyAliases?: StudyAliases } = {},
): SubjectInput[] {
  // The last occurrence of a resource id wins (a later version in the file supersedes).
  const latest = new Map<string, Located>();
  for (const it of items) latest.set(`${it.resource.resourceType}/${it.resource.id}`, it);
  const all = [...latest.values()];
  const subjects = all.filter((x) => x.resource.resourceType === 'ResearchSubject');
  const studies = new Map(all.filter((x) => x.resource.resourceType === 'ResearchStudy' && x.resource.id).map((x) => [x.resource.id!, studyIdentifiers(x.resource as ResearchStudy)]));
  const ctx: StudyContext = { trialOf: trialNamer((k) => k === trial.key, opts.studyAliases), storedStudy: (id) => studies.get(id) };
  const out: SubjectInput[] = [];
  const units = itemUnits(mappings, trial.key);
  for (const s of subjects) {
    const rs = s.resource as ResearchSubject;
    const e = parseResearchSubject(rs, ctx);
    if (e.trial !== trial.key) continue;
    const pid = e.patientRef;
    const patient = (all.find((x) => x.resource.resourceType === 'Patient' && x.resource.id === pid)?.resource as Patient | undefined) ?? null;
    const mine = all.filter((x) => pid && x.resource.resourceType !== 'Patient' && x.resource.resourceType !== 'ResearchSubject' && patientOf(x.resource) === pid);
    const crf: CrfEntry[] = [];
    const reviews: OpenReview[] = [];
    for (const x of mine.filter((m) => m.resource.resourceType === 'Observation')) {
      const o = x.resource as Observation;
      const source = `Observation/${o.id}`;
      for (const r of mapResource(mappings, trial.key, o, { fallbackEffective: x.context?.fallbackEffective as string | undefined, site: site.id })) {
        if (r.kind === 'value') crf.push({ form: r.form, item: r.item, value: r.value, unit: r.unit, effective: r.effective, source, status: 'auto', code: r.code, referenceHigh: referenceHigh(o), original: { value: r.originalValue, unit: r.originalUnit, code: r.code } });
        else if (r.reason !== 'no-rule') reviews.push({ reason: r.reason, detail: r.detail, source });
      }
    }
    out.push({ trial, site, subject: e.subject, patient, researchSubject: rs, resources: attributeStudies(mine.map((m) => m.resource), ctx), crf, units, reviews, asOf });
  }
  return out;
}
