/**
 * A site may not write into another site's subject: a ResearchSubject whose
 * (trial, subject number) the first enrolling site owns is refused at the door
 * with an OperationOutcome naming the identifier, so the sender learns of it
 * and nothing is stored. Trials named only through a site alias, or through a
 * ResearchStudy not yet received, cannot be told here; the map worker's claim
 * (a `subject-claimed-by-other-site` review item) covers those and races.
 */
import type { ResearchSubject } from '@medplum/fhirtypes';
import type { Db } from '../store/db';
import { subjectsOwnedElsewhere } from '../store/studies';
import { namesInReference, researchStudyId } from '../protocol/study-ref';
import type { StoreItem } from './receive';

/** The subject number and the study names of a ResearchSubject, as the map worker reads them. */
export function subjectClaim(rs: ResearchSubject): { subject: string; names: string[]; studyIds: string[]; at: string } | null {
  const k = (rs.identifier ?? []).findIndex((i) => i.value);
  const subject = k >= 0 ? rs.identifier![k].value! : rs.id;
  if (!subject) return null;
  const names = namesInReference(rs.study, rs);
  const studyId = researchStudyId(rs.study?.reference);
  if (studyId) names.push(studyId);
  return { subject, names, studyIds: studyId ? [studyId] : [], at: k >= 0 ? `identifier[${k}].value` : 'id' };
}

/** The refusal text per item index for ResearchSubjects whose subject another site owns. */
export async function claimedElsewhere(db: Db, site: string, items: readonly { index: number; item: StoreItem }[]): Promise<Map<number, { text: string; at: string }>> {
  const asks = items.flatMap(({ index, item }) => {
    if (item.n.resourceType !== 'ResearchSubject') return [];
    const c = subjectClaim(item.n.body as unknown as ResearchSubject);
    return c ? [{ index, path: item.path, ...c }] : [];
  });
  const out = new Map<number, { text: string; at: string }>();
  if (!asks.length) return out;
  const owned = await subjectsOwnedElsewhere(db, site, asks);
  for (const a of asks) {
    const o = owned.get(a.subject);
    // The owning site's id is configuration, not PHI; the subject number is the trial's pseudonym.
    if (o) out.set(a.index, { at: `${a.path}.${a.at}`, text: `subject ${a.subject} of ${o.trial} is enrolled by site ${o.owner}; a site cannot enroll or write into another site's subject` });
  }
  return out;
}
