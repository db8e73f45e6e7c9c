/**
 * Reading an enrollment out of a FHIR R4 ResearchSubject (pure).
 *
 * The trial is the ResearchStudy named by `study` (see study-ref.ts for every
 * shape accepted): its identifier value is the trial key (the NCT number, or
 * ESLD-UCMSC-DOSE for the Shenyang dose trial, which has none;
 * clinical-reference §1.2), or a site alias of it.
 */
import type { ResearchSubject } from '@medplum/fhirtypes';
import { resolveStudy, trialNamer, type StudyContext, type StudyResolution } from './study-ref';

/** A Patient identifier (system may be empty when the sender gives none). */
export interface Identifier {
  readonly system: string;
  readonly value: string;
}

export interface ParsedEnrollment {
  /** The configured trial the study names, or null (see `study` for why). */
  readonly trial: string | null;
  readonly study: StudyResolution;
  /** What the sender named, for the review item when the trial is unknown. */
  readonly studyText: string;
  readonly subject: string;
  readonly patientRef: string | null;
  readonly individual: Identifier | null;
  readonly arm: string | null;
  readonly status: string;
  readonly periodStart: string | null;
}

/**
 * Parses a ResearchSubject. `ctx` resolves its study: a StudyContext (trial
 * names with the site's aliases, and the site's stored ResearchStudies), or
 * for callers without stored studies a plain "is this a trial key" test.
 */
export function parseResearchSubject(rs: ResearchSubject, ctx: StudyContext | ((key: string) => boolean)): ParsedEnrollment {
  const context: StudyContext = typeof ctx === 'function' ? { trialOf: trialNamer(ctx), storedStudy: () => undefined } : ctx;
  const study = resolveStudy(rs.study, rs, context);
  const subjectId = rs.identifier?.find((i) => i.value)?.value ?? rs.id!;
  const ind = rs.individual;
  const patientRef = ind?.reference ? (/(?:^|\/)Patient\/([^/]+)$/.exec(ind.reference)?.[1] ?? null) : null;
  return {
    trial: study.kind === 'trial' ? study.trial : null,
    study,
    studyText: study.names.join(', ') || rs.study?.reference || '(none)',
    subject: subjectId,
    patientRef,
    individual: ind?.identifier?.value ? { system: ind.identifier.system ?? '', value: ind.identifier.value } : null,
    arm: rs.assignedArm ?? null,
    status: rs.status,
    periodStart: rs.period?.start ?? null,
  };
}
