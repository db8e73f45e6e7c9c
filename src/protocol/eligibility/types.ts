/**
 * Input and output of the eligibility engine (pure, no I/O): what the caller knows about
 * one subject at screening, and the verdict per criterion of a loaded trial.
 *
 * Missing or unusable inputs make a criterion UNKNOWN, never met
 * (clinical-reference §0 "Missing or unknown data"; design.md habit 7).
 */
import type { ItemUnits, SourceQuantity } from '../../mapping';
import type { Ascites, ClifSubscore, CtpEncephalopathy } from '../scores';
import type { Coding } from '../trials';

/**
 * Screening labs: the latest result of an item whose local calendar date is within
 * [screening date - lookback, screening date] (both inclusive; the whole screening day
 * counts). 7 days mirrors the baseline lab window of clinical-reference §0 ("latest
 * result with effective <= first infusion and >= Day -7") [A].
 */
export const DEFAULT_SCREENING_LOOKBACK_DAYS = 7;

/**
 * Chronic hepatitis B Condition codes accepted besides the trial file's conditionCodes:
 * SNOMED CT 61977001 "Chronic type B viral hepatitis" [K] (clinical-reference §1.3 I2).
 */
export const CHRONIC_HBV_EXTRA_CODES: readonly Coding[] = Object.freeze([
  Object.freeze({ system: 'http://snomed.info/sct', code: '61977001', display: 'Chronic type B viral hepatitis [K]' }),
]);

/** One CRF lab value of this trial (src/mapping MappedValue plus its source). */
export interface LabFact {
  /** CRF item (analyte id of mappings/analytes.json): TBIL, INR, PTA, PLT, CREA, ALB, NA, HBSAG, ... */
  readonly item: string;
  /** In the CRF unit (numbers), or the CRF code for coded items (HBSAG: 'POS' / 'NEG'). */
  readonly value: number | string;
  /** CRF unit (UCUM); null for coded items. */
  readonly unit: string | null;
  /** FHIR dateTime/date of the result (MappedValue.effective). */
  readonly effective: string;
  /** PHI-free source reference, e.g. 'Observation/abc'. */
  readonly ref: string;
  /** referenceRange.high of the source Observation, in its own unit (NCT02812121 I1a ULN, §1.3). */
  readonly referenceHigh?: { readonly value: number; readonly unit: string } | null;
  /** The value as the source gave it: rules compare at the source's precision (design.md "One converter"). */
  readonly source?: SourceQuantity | null;
}

/** The value of a clinician answer Observation. */
export type AnswerValue =
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'coding'; readonly codings: readonly Coding[] }
  /** valueDateTime, e.g. the date of onset of liver failure. */
  | { readonly kind: 'dateTime'; readonly value: string };

/** A clinician answer or history item: a FHIR Observation or Condition, reduced to what the rules read. */
export interface CodedFact {
  readonly resourceType: 'Observation' | 'Condition';
  /** Observation.code / Condition.code codings. */
  readonly codings: readonly Coding[];
  /** Observation.effective[x], or Condition.onset[x] (FHIR date/dateTime). */
  readonly date?: string | null;
  /** Observation.status, or the Condition.clinicalStatus code. */
  readonly status?: string | null;
  /** Condition.verificationStatus code. */
  readonly verificationStatus?: string | null;
  /** Observation.value[x]; unused for Conditions. */
  readonly value?: AnswerValue | null;
  readonly ref: string;
}

/**
 * An investigator's answer to a judgement criterion, given in the workbench:
 * met / not-met answer "does the criterion hold?"; not-applicable says the
 * criterion does not apply to this patient, so it does not block (an inclusion
 * counts as met, an exclusion as not met).
 */
export interface WorkbenchAnswer {
  readonly criterion: string;
  readonly answer: 'met' | 'not-met' | 'not-applicable';
  /** When it was given: an ISO 8601 instant. */
  readonly at: string;
  /** User id of the investigator. */
  readonly by: string;
}

/** A dated clinician assessment the scores need (Child-Pugh ascites/HE, MELD dialysis; §4.1, §4.4). */
export type ClinicalFinding =
  | { readonly kind: 'ascites'; readonly value: Ascites; readonly effective: string; readonly ref: string }
  | { readonly kind: 'encephalopathy'; readonly value: CtpEncephalopathy; readonly effective: string; readonly ref: string }
  /** >= 2 dialysis treatments or 24 h CVVHD in the 7 days before (OPTN, §4.1). */
  | { readonly kind: 'dialysis'; readonly value: boolean; readonly effective: string; readonly ref: string }
  /** CLIF-C OF circulation or respiration band 1-3 (§5 table), recorded by a clinician. */
  | { readonly kind: 'circulation'; readonly value: ClifSubscore; readonly effective: string; readonly ref: string }
  | { readonly kind: 'respiration'; readonly value: ClifSubscore; readonly effective: string; readonly ref: string };

export type FindingKind = ClinicalFinding['kind'];

/** Everything the engine knows about one subject for one trial. */
export interface EligibilityFacts {
  /** ResearchSubject.period.start, else the evaluation date (the caller decides). FHIR date/dateTime. */
  readonly screeningDate: string;
  /** The site's IANA time zone: days are local calendar dates (§6 Supporting rules). */
  readonly timeZone: string;
  readonly patient: {
    /** Patient.birthDate (FHIR date; YYYY and YYYY-MM are accepted). */
    readonly birthDate?: string | null;
    readonly gender?: 'male' | 'female' | 'other' | 'unknown' | null;
    readonly ref?: string | null;
  };
  /** CRF lab values of this trial, any date (screening, pre-onset and history alike). */
  readonly labs: readonly LabFact[];
  /** The trial's CRF unit converter (src/mapping): the only way rules change a value's unit. */
  readonly units: ItemUnits;
  readonly answers?: readonly CodedFact[];
  readonly findings?: readonly ClinicalFinding[];
  /** Investigators' answers given in the workbench, the latest per criterion (judgement criteria only). */
  readonly clinicianAnswers?: readonly WorkbenchAnswer[];
  /** Date of onset of liver failure (pre-onset rules, §1.1 E2); else read from the rule's onset answer. */
  readonly liverFailureOnset?: { readonly date: string; readonly ref: string } | null;
}

export interface EligibilityOptions {
  /** Days before the screening date a lab may be taken; default DEFAULT_SCREENING_LOOKBACK_DAYS. */
  readonly screeningLookbackDays?: number;
}

export type Verdict = 'met' | 'not-met' | 'unknown';

export interface CriterionResult {
  readonly id: string;
  readonly type: 'inclusion' | 'exclusion';
  readonly verdict: Verdict;
  /** Precise and PHI-free: values, units, thresholds, the clinical-reference section. */
  readonly reason: string;
  /** Source references the verdict rests on ('Observation/abc', 'Condition/x', 'Patient/p'). */
  readonly evidence: readonly string[];
}

export type Overall = 'eligible' | 'ineligible' | 'needs-review';

export interface EligibilityResult {
  readonly trial: string;
  /** The local calendar date the evaluation is anchored to. */
  readonly screeningDate: string;
  readonly overall: Overall;
  readonly criteria: readonly CriterionResult[];
  /** Why the overall verdict differs from the plain combination of the criteria, if it does. */
  readonly notes: readonly string[];
}
