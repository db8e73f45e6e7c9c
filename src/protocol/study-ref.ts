/**
 * Which trial a ResearchStudy reference names (pure).
 *
 * FHIR R4 names the study of a ResearchSubject (`ResearchSubject.study`) and
 * of a study-drug administration (the `workflow-researchStudy` extension) with
 * a Reference. EHRs send it in the standard shape, a literal reference to
 * their own ResearchStudy resource (`ResearchStudy/<ehr-internal-id>`) whose
 * `identifier` carries the registry number (the NCT number, or ESLD-UCMSC-DOSE
 * for the Shenyang dose trial, which has none: clinical-reference §1.2). Older
 * senders give `Reference.identifier`, a contained ResearchStudy, or a literal
 * reference whose id is itself the trial key; all of these keep working.
 *
 * A site whose ResearchStudy carries only its local protocol number maps it
 * to the trial in config (`studyAliases`, README "Configuration").
 */
import type { MedicationAdministration, Reference, Resource, ResearchStudy } from '@medplum/fhirtypes';

/** R4 workflow extension linking an event to the ResearchStudy it belongs to (same URL as schedule/study-drug.ts). */
const WORKFLOW_RESEARCH_STUDY = 'http://hl7.org/fhir/StructureDefinition/workflow-researchStudy';

/** Per-site aliases: trial key → the local identifier values that name it. */
export type StudyAliases = Readonly<Record<string, readonly string[]>>;

/** Turns a name (an identifier value or a ResearchStudy id) into a trial key, or null. */
export type TrialNamer = (name: string) => string | null;

/** Names that are trial keys name themselves; a site alias names its trial. */
export function trialNamer(knownTrial: (key: string) => boolean, aliases: StudyAliases = {}): TrialNamer {
  const byAlias = new Map<string, string>();
  for (const [trial, names] of Object.entries(aliases)) for (const n of names) byAlias.set(n, trial);
  return (name) => (knownTrial(name) ? name : (byAlias.get(name) ?? null));
}

/**
 * The logical id of a literal ResearchStudy reference: `ResearchStudy/abc`,
 * `https://ehr/fhir/ResearchStudy/abc` or `ResearchStudy/abc/_history/2` → `abc`
 * (R4 §2.3.0 Literal references). Contained (`#x`) and other types → null.
 */
export function researchStudyId(reference: string | undefined): string | null {
  if (!reference) return null;
  const m = /(?:^|\/)ResearchStudy\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
  return m ? m[1] : null;
}

/** The identifier values of a ResearchStudy, in order (what the trial is found by). */
export function studyIdentifiers(study: ResearchStudy): string[] {
  return (study.identifier ?? []).map((i) => i.value).filter((v): v is string => !!v);
}

/** The first of a study's identifier values that names a trial, or null. */
export function trialOfStudy(identifiers: readonly string[], trialOf: TrialNamer): string | null {
  for (const v of identifiers) {
    const t = trialOf(v);
    if (t) return t;
  }
  return null;
}

export interface StudyContext {
  readonly trialOf: TrialNamer;
  /**
   * The identifier values of the site's stored ResearchStudy with this id, or
   * undefined when none has arrived (yet).
   */
  readonly storedStudy: (id: string) => readonly string[] | undefined;
}

/**
 * How a study reference resolves:
 * - `trial`: it names a configured trial;
 * - `awaiting`: it points at a ResearchStudy we have not received: wait for it;
 * - `unknown`: everything it names is known and none is a configured trial.
 * `studyId` is the literal ResearchStudy id (kept so a later version of that
 * ResearchStudy can re-resolve); `names` is what the sender named, for review items.
 */
export type StudyResolution =
  | { readonly kind: 'trial'; readonly trial: string; readonly studyId: string | null; readonly names: readonly string[] }
  | { readonly kind: 'awaiting'; readonly studyId: string; readonly names: readonly string[] }
  | { readonly kind: 'unknown'; readonly studyId: string | null; readonly names: readonly string[] };

/** Resolves a ResearchStudy reference found on `holder` (whose `contained` a `#id` reference points into). */
/** What a study reference names by itself: `Reference.identifier` and a contained ResearchStudy's identifiers. */
export function namesInReference(ref: Reference | undefined, holder: { contained?: Resource[] }): string[] {
  const names: string[] = [];
  if (ref?.identifier?.value) names.push(ref.identifier.value);
  const literal = ref?.reference ?? '';
  if (literal.startsWith('#')) {
    const contained = (holder.contained ?? []).find((c) => c.resourceType === 'ResearchStudy' && c.id === literal.slice(1)) as ResearchStudy | undefined;
    if (contained) names.push(...studyIdentifiers(contained));
  }
  return names;
}

export function resolveStudy(ref: Reference | undefined, holder: { contained?: Resource[] }, ctx: StudyContext): StudyResolution {
  const names = namesInReference(ref, holder);
  const studyId = researchStudyId(ref?.reference);
  const stored = studyId ? ctx.storedStudy(studyId) : undefined;
  if (stored) names.push(...stored);
  // Last: the reference's own id, for senders whose ResearchStudy id is the trial key (or an alias).
  if (studyId) names.push(studyId);
  const trial = trialOfStudy(names, ctx.trialOf);
  if (trial) return { kind: 'trial', trial, studyId, names };
  if (studyId && !stored) return { kind: 'awaiting', studyId, names };
  return { kind: 'unknown', studyId, names };
}

/**
 * The administrations with every `workflow-researchStudy` reference that
 * resolves carrying the trial key as its `identifier` (an alias becomes the key), so the schedule's
 * study-drug test (which reads identifiers, contained studies and literal
 * ids) recognises a reference to the site's own ResearchStudy resource. R4
 * allows a Reference to carry both and requires them to agree (Reference
 * definition, ref-1 note), which they do by construction. Other resources are
 * returned as they are; nothing is mutated.
 */
export function attributeStudies<T extends Resource>(resources: readonly T[], ctx: StudyContext): T[] {
  return resources.map((r) => {
    if (r.resourceType !== 'MedicationAdministration') return r;
    const ma = r as MedicationAdministration;
    let changed = false;
    const extension = (ma.extension ?? []).map((e) => {
      if (e.url !== WORKFLOW_RESEARCH_STUDY || !e.valueReference) return e;
      const res = resolveStudy(e.valueReference, ma, ctx);
      if (res.kind !== 'trial' || e.valueReference.identifier?.value === res.trial) return e;
      changed = true;
      return { ...e, valueReference: { ...e.valueReference, identifier: { value: res.trial } } };
    });
    return changed ? ({ ...ma, extension } as unknown as T) : r;
  });
}

/**
 * A StudyContext over a site's stored ResearchStudies already resolved to
 * trials (ResearchStudy id → trial key, aliases applied when they were stored).
 */
export function resolvedStudies(trialOfStudyId: Readonly<Record<string, string>>): StudyContext {
  const keys = new Set(Object.values(trialOfStudyId));
  return {
    trialOf: (name) => (keys.has(name) ? name : null),
    storedStudy: (id) => (Object.prototype.hasOwnProperty.call(trialOfStudyId, id) ? [trialOfStudyId[id]] : undefined),
  };
}
