/**
 * A loaded trial definition (mappings/trials/<key>.json after validation, cross-checks
 * and default resolution). Deeply frozen: the schedule and eligibility engines read it,
 * nothing writes it (design.md habit 2: "build an immutable plan").
 */
import type { Coding, Criterion } from './criteria';

/** What the public protocol text does not give, so the file ships placeholders (clinical-reference §1.4, §7.1). */
export type TrialUnknown = 'schedule' | 'dose' | 'dose-amount' | 'eligibility';

/**
 * active: MSC. placebo: blinded placebo, counted as a dose, amount not checked.
 * masked: MSC or placebo, not known to the adapter (a stage-1 arm before re-randomisation).
 * MSC and placebo share one medication code, so the product never identifies the arm (§0 Blinding).
 */
export type Product = 'active' | 'placebo' | 'masked';

/** Expected cells per infusion: fixed (NCT05985863, §1.1) or per kg of body weight (ESLD, §1.2). */
export type DoseAmount =
  | { readonly kind: 'fixed'; readonly value: number; readonly unit: '{cells}' }
  | {
      readonly kind: 'per-kg';
      readonly value: number;
      readonly unit: '{cells}/kg';
      /** Body weight code, 29463-7 [K]. */
      readonly weightLoinc: string;
      /** Latest weight within this many calendar days before the infusion [A, 7]. */
      readonly weightWithinDaysBefore: number;
    };

/** One scheduled study-drug administration of an arm: target Day 0 + 7 x week. */
export interface ScheduledDose {
  readonly week: number;
  readonly product: Product;
  /** null: the amount is not configured (NCT02812121, placebo), so it is not checked. */
  readonly amount: DoseAmount | null;
  /** Allowed relative deviation, e.g. 0.1 = +/-10% [A]. */
  readonly tolerance: number;
}

export type ArmRole = 'experimental' | 'placebo-comparator' | 'active-comparator' | 'no-intervention';

export interface Arm {
  /** The ResearchSubject.assignedArm value. */
  readonly id: string;
  /** Other assignedArm values that name this arm (matched trimmed, case-insensitive). */
  readonly aliases: readonly string[];
  readonly label: string;
  readonly registryLabel: string;
  readonly role: ArmRole | null;
  /** Two-stage designs (NCT05985863): 1 = assigned at Day 0 and re-randomised later; 2 = assigned at re-randomisation. */
  readonly stage: 1 | 2 | null;
  /** Stage-2 arms: the stage-1 arm they come from. */
  readonly from: string | null;
  readonly rerandomisation: { readonly week: number; readonly into: readonly string[] } | null;
  /** Sorted by week; one entry per week. */
  readonly doses: readonly ScheduledDose[];
}

/** Calendar days before/after the target day, both inclusive (§6). */
export interface VisitWindow {
  readonly before: number;
  readonly after: number;
}

export type VisitDef =
  | {
      /** SCR: Day -daysBefore up to the first infusion start (§0 Baseline lab, §6). */
      readonly kind: 'screening';
      readonly code: 'SCR';
      readonly daysBefore: number;
    }
  | {
      readonly kind: 'week';
      /** W<week>. */
      readonly code: string;
      readonly week: number;
      /** 7 x week, anchored to Day 0 (§0 Study Day 0). */
      readonly targetDay: number;
      readonly window: VisitWindow;
      /** Some arm has a dose this week, so the infusion window applies. */
      readonly infusion: boolean;
      /** Arms that have this visit; null = every arm. */
      readonly arms: readonly string[] | null;
    };

export type WeekVisitDef = Extract<VisitDef, { kind: 'week' }>;

export interface StudyDrugConfig {
  /** Codes used by every site without an override. */
  readonly codes: readonly Coding[];
  /** Site id -> the codes that site uses instead. */
  readonly siteOverrides: Readonly<Record<string, readonly Coding[]>>;
  /** ResearchStudy ids/identifier values accepted besides the trial key. */
  readonly researchStudyIds: readonly string[];
}

/** Adapter defaults [A], resolved (file value, else TRIAL_DEFAULTS). */
export interface TrialDefaults {
  readonly doseTolerance: number;
  readonly minInfusionIntervalDays: number;
  readonly baselineWindowDays: number;
  readonly weightWithinDaysBefore: number;
  readonly windows: {
    readonly infusion: number;
    readonly byWeek: readonly { readonly fromWeek: number; readonly toWeek: number | null; readonly days: number }[];
  };
  readonly meld: {
    /**
     * A dialysis that no finding records: `assume-none` scores it as none (the UNOS
     * convention; clinical-reference §1.3 I3a and §4.1 vectors M10/M11 give `met` with
     * dialysis "no") and says so in the reason; `unknown` decides a MELD range only when
     * it holds with and without dialysis.
     */
    readonly unrecordedDialysis: UnrecordedDialysis;
  };
}

/** How MELD-family scores treat a dialysis no finding records (TrialDefaults.meld). */
export type UnrecordedDialysis = 'assume-none' | 'unknown';

export interface Trial {
  readonly key: string;
  readonly registryId: string | null;
  readonly title: string;
  readonly summary: string;
  /** File the definition came from, relative to the trials directory. */
  readonly file: string;
  readonly unknowns: readonly TrialUnknown[];
  readonly defaults: TrialDefaults;
  readonly studyDrug: StudyDrugConfig;
  readonly arms: readonly Arm[];
  /** SCR first (when defined), then week visits by week. */
  readonly visits: readonly VisitDef[];
  /** CRF item -> UCUM unit the protocol asks for. */
  readonly crfUnits: Readonly<Record<string, string>>;
  readonly eligibility: readonly Criterion[];
  /** What goes to the trial database (README "Send data to the trial database"). */
  readonly export: { readonly values: ExportValues };
}

/**
 * Which CRF values an export sends: `reviewed` (accepted or corrected by a data
 * manager) or `all` (automatic values too). Rejected and superseded values never go.
 */
export type ExportValues = 'reviewed' | 'all';

/** The loaded trials, by key. */
export interface TrialSet {
  /** Trial keys, sorted. */
  readonly keys: readonly string[];
  has(key: string): boolean;
  get(key: string): Trial | undefined;
}
