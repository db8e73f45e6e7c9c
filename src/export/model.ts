/**
 * What an export is made of: the study definition (from the trial and CRF files)
 * and the stored data of the subjects in the reader's scope. The writers (ODM,
 * REDCap, CDISC LB/EX) are pure functions of an ExportDataset, so the same input
 * gives byte-identical files (design.md: export/ never imports store/ or express).
 *
 * Identifiers only: a subject is its trial subject number, a patient never
 * appears (no MRN, name or birth date; README "Send data to the trial database").
 */

/** A visit as the trial database sees it: SCR, W0, W1, ... in schedule order, then the unscheduled event. */
export interface ExportVisit {
  /** Visit code from the trial file (SCR, W0, W12) or UNS for values outside every window. */
  readonly code: string;
  readonly label: string;
  /** 1-based position in the schedule (SDTM VISITNUM); UNS is 99. */
  readonly number: number;
  readonly kind: 'screening' | 'week' | 'unscheduled';
  /** Study day of the target (7 x week); null for SCR and UNS. */
  readonly targetDay: number | null;
  /** Calendar days before/after the target (both inclusive); null for SCR and UNS. */
  readonly window: { readonly before: number; readonly after: number } | null;
  /** Arm ids that have this visit; null = every arm. */
  readonly arms: readonly string[] | null;
}

/** One coded answer of a coded item (HBsAg POS/NEG). */
export interface ExportCode {
  readonly code: string;
  readonly decode: string;
}

/** One CRF item of one form, from the CRF file's rule and its analyte group. */
export interface ExportItem {
  readonly form: string;
  /** CRF item code, e.g. TBIL (also SDTM LBTESTCD: at most 8 characters, upper case). */
  readonly item: string;
  /** Analyte group id (mappings/analytes.json). */
  readonly analyte: string;
  /** Analyte group name, e.g. "Total bilirubin" (SDTM LBTEST). */
  readonly label: string;
  readonly dataType: 'float' | 'integer' | 'text';
  /** Digits after the decimal point of the CRF value (0 for integer and coded items). */
  readonly decimals: number;
  /** CRF unit (UCUM code); null for coded items. */
  readonly unit: string | null;
  /** The LOINC codes of the analyte group, with their names. */
  readonly loinc: readonly { readonly code: string; readonly name: string }[];
  /** Coded items only (valueType coded): the CRF codes, sorted. */
  readonly codeList: readonly ExportCode[] | null;
}

export interface ExportForm {
  /** Form code of the CRF file (LB, VS). */
  readonly form: string;
  readonly label: string;
  /** Items in CRF file order. */
  readonly items: readonly ExportItem[];
}

export interface ExportArm {
  readonly id: string;
  readonly label: string;
}

export interface ExportSite {
  readonly id: string;
  /** IANA time zone; local date-times in the files carry this zone's offset. */
  readonly timeZone: string;
}

/** The study definition, built only from the trial and CRF files (study.ts). */
export interface ExportStudy {
  /** Trial key, e.g. NCT05985863 (StudyOID, STUDYID, REDCap project). */
  readonly trial: string;
  readonly registryId: string | null;
  readonly title: string;
  readonly summary: string;
  readonly arms: readonly ExportArm[];
  /** Schedule order; UNS last. */
  readonly visits: readonly ExportVisit[];
  readonly forms: readonly ExportForm[];
  /**
   * The study drug as the export names it (SDTM EXTRT). Blinded trials (an arm
   * gives placebo or a masked product) use a name that does not reveal the arm
   * (clinical-reference §0 Blinding).
   */
  readonly treatment: { readonly name: string; readonly blinded: boolean };
  /** How values are chosen (trial file `export.values`): reviewed only, or automatic values too. */
  readonly values: 'reviewed' | 'all';
}

/** A person or the pipeline, as audit records and signatures name them. */
export interface ExportUser {
  /** User id (OIDC sub or token user id); `trialbridge` for the pipeline. */
  readonly id: string;
  readonly name: string;
  /** Role of the grant the user acted under (data-manager, investigator, ...); `system` for trialbridge. */
  readonly role: string;
}

export interface ExportSubject {
  /** Trial subject number (ResearchSubject.identifier), never the MRN. */
  readonly subject: string;
  readonly site: string;
  /** Arm id of the trial file, or null when not (yet) assigned. */
  readonly arm: string | null;
  /** ResearchSubject.status. */
  readonly status: string;
  /** Study Day 0 as a site-local date (YYYY-MM-DD), or null. */
  readonly day0: string | null;
}

export type ValueStatus = 'auto' | 'accepted' | 'corrected' | 'rejected' | 'superseded';

/** The last change to a value: who, when, why (ODM AuditRecord; 21 CFR Part 11 §11.10(e)). */
export interface ValueAudit {
  /** ExportUser.id: `trialbridge` for automatic values, the data manager for accepted/corrected/rejected. */
  readonly user: string;
  /** UTC instant (ISO 8601 with Z). */
  readonly at: string;
  /** Review reason code + note for a correction or rejection; null otherwise. */
  readonly reason: string | null;
}

/** One stored CRF value (crf_values row), with where the report placed it. */
export interface ExportValue {
  /** crf_values.id: identity inside trialbridge, never shown to the trial database as data. */
  readonly id: number;
  readonly subject: string;
  readonly site: string;
  readonly form: string;
  readonly item: string;
  /** Visit code the report assigned the value to; UNS when it is outside every window. */
  readonly visit: string;
  /**
   * Repeat key of the event: `1` for a scheduled visit, the site-local date (YYYY-MM-DD)
   * for UNS, so keys stay stable as later values arrive.
   */
  readonly visitRepeat: string;
  /** CRF value in the CRF unit (number) or CRF code (coded items). */
  readonly value: number | string;
  readonly unit: string | null;
  /** What the source said, before conversion (SDTM LBORRES/LBORRESU). */
  readonly originalValue: number | string;
  readonly originalUnit: string | null;
  /** UTC instant of the sample (ISO 8601 with Z). */
  readonly effective: string;
  /** Site-local wall time with offset (2024-03-04T07:00:00+08:00), or the date alone when the source gave only a date. */
  readonly localDateTime: string;
  readonly localDate: string;
  readonly status: ValueStatus;
  /** LOINC code the source was coded with (SDTM LBLOINC). */
  readonly loinc: string;
  /** Observation.interpretation code (v3-ObservationInterpretation: N, H, L, HH, LL, A, ...), or null. */
  readonly interpretation: string | null;
  /** FHIR reference with version: `Observation/abc/_history/2` (ODM SourceID). */
  readonly source: string;
  readonly audit: ValueAudit;
}

/** A study-drug administration (SDTM EX). */
export interface ExportAdministration {
  readonly subject: string;
  readonly site: string;
  /** Visit code the schedule assigned it to, or UNS. */
  readonly visit: string;
  /** `MedicationAdministration/<id>/_history/<v>`. */
  readonly source: string;
  /** Site-local start with offset (SDTM EXSTDTC). */
  readonly start: string;
  readonly dose: number | null;
  /** UCUM code or unit text as sent. */
  readonly doseUnit: string | null;
  /** given | partial | not-done | needs-review (schedule's AdministrationState). */
  readonly state: string;
  /** Why the dose differs from the plan (SDTM EXADJ), from the dose flags; null when as planned. */
  readonly adjustment: string | null;
}

/** A valid (not voided) electronic signature (21 CFR Part 11 §11.50). */
export interface ExportSignature {
  readonly id: number;
  readonly subject: string;
  readonly site: string;
  /** Visit code, or null for the subject's whole CRF. */
  readonly visit: string | null;
  /** ExportUser.id of the signer. */
  readonly signer: string;
  readonly printedName: string;
  readonly meaning: string;
  /** UTC instant. */
  readonly at: string;
}

/** Everything one export file is written from. Lists are sorted (subject, then visit order, form, item, effective). */
export interface ExportDataset {
  readonly study: ExportStudy;
  readonly sites: readonly ExportSite[];
  /** Every user named by an audit or signature, plus `trialbridge`. */
  readonly users: readonly ExportUser[];
  readonly subjects: readonly ExportSubject[];
  /** Values to send: the trial's selection (reviewed, or all), never rejected or superseded ones. */
  readonly values: readonly ExportValue[];
  readonly administrations: readonly ExportAdministration[];
  readonly signatures: readonly ExportSignature[];
  /** UTC instant the data was read (ODM CreationDateTime, export record `until`). */
  readonly asOf: string;
}

/** ODM transactional change of one value since the previous export (ODM 1.3.2 TransactionType). */
export type ValueChange =
  | { readonly kind: 'insert'; readonly value: ExportValue }
  | { readonly kind: 'update'; readonly value: ExportValue }
  /** A value sent before that must no longer count (rejected, superseded, or moved to another key). */
  | { readonly kind: 'remove'; readonly value: ExportValue };

/**
 * The identity of a value in the trial database: subject, event and its repeat,
 * form, item group repeat (the sample's local date-time) and item. Two values
 * with the same key are the same cell; the store keeps the sent state by it.
 */
export function valueKey(v: Pick<ExportValue, 'subject' | 'visit' | 'visitRepeat' | 'form' | 'item' | 'localDateTime'>): string {
  return [v.subject, v.visit, v.visitRepeat, v.form, v.localDateTime, v.item].join('|');
}
