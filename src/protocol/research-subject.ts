/**
 * Reading an enrollment out of a FHIR R4 ResearchSubject (pure).
 *
 * The trial is the ResearchStudy named by `study`: its identifier value is the
 * trial key (the NCT number, or ESLD-UCMSC-DOSE for the Shenyang dose trial,
 * which has none; clinical-reference §1.2). Senders name it in one of three
 * ways, all accepted: `study.identifier`, a contained ResearchStudy, or a
 * reference whose id is itself the trial key.
 */
import type { ResearchStudy, ResearchSubject } from '@medplum/fhirtypes';
/** A Patient identifier (system may be empty when the sender gives none). */
export interface Identifier {
  readonly system: string;
  readonly value: string;
}

export interface ParsedEnrollment {
  readonly trial: string | null;
  /** What the sender named, for the review item when the trial is unknown. */
  readonly studyText: string;
  readonly subject: string;
  readonly patientRef: string | null;
  readonly individual: Identifier | null;
  readonly arm: string | null;
  readonly status: string;
  readonly periodStart: string | null;
}

export function parseResearchSubject(rs: ResearchSubject, knownTrial: (key: string) => boolean): ParsedEnrollment {
  const candidates: string[] = [];
  if (rs.study?.identifier?.value) candidates.push(rs.study.identifier.value);
  const ref = rs.study?.reference ?? '';
  if (ref.startsWith('#')) {
    const contained = (rs.contained ?? []).find((c) => c.resourceType === 'ResearchStudy' && c.id === ref.slice(1)) as ResearchStudy | undefined;
    for (const id of contained?.identifier ?? []) if (id.value) candidates.push(id.value);
  } else {
    const m = /ResearchStudy\/([^/]+)$/.exec(ref);
    if (m) candidates.push(m[1]);
  }
  const trial = candidates.find(knownTrial) ?? null;
  const subjectId = rs.identifier?.find((i) => i.value)?.value ?? rs.id!;
  const ind = rs.individual;
  const patientRef = ind?.reference ? (/(?:^|\/)Patient\/([^/]+)$/.exec(ind.reference)?.[1] ?? null) : null;
  return {
    trial,
    studyText: candidates.join(', ') || ref || '(none)',
    subject: subjectId,
    patientRef,
    individual: ind?.identifier?.value ? { system: ind.identifier.system ?? '', value: ind.identifier.value } : null,
    arm: rs.assignedArm ?? null,
    status: rs.status,
    periodStart: rs.period?.start ?? null,
  };
}
