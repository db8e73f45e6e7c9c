/**
 * The shape of a trial file as written (mappings/trials/trial.schema.json). Only the
 * builder reads these; everything else uses the resolved types in ./types.
 */
import type { Coding, Criterion } from './criteria';
import type { ArmRole, ExportValues, Product, TrialUnknown, VisitWindow } from './types';

export interface TrialFileJson {
  readonly key: string;
  readonly title: string;
  readonly registryId?: string | null;
  readonly summary: string;
  readonly unknowns?: readonly TrialUnknown[];
  readonly defaults?: DefaultsJson;
  readonly studyDrug: {
    readonly codes: readonly Coding[];
    readonly siteOverrides?: Readonly<Record<string, readonly Coding[]>>;
    readonly researchStudyIds?: readonly string[];
  };
  readonly arms: readonly ArmJson[];
  readonly visits: readonly VisitJson[];
  readonly crfUnits: Readonly<Record<string, string>>;
  readonly eligibility: readonly Criterion[];
  readonly export?: { readonly values?: ExportValues };
}

export interface DefaultsJson {
  readonly doseTolerance?: number;
  readonly minInfusionIntervalDays?: number;
  readonly baselineWindowDays?: number;
  readonly weightWithinDaysBefore?: number;
  readonly windows?: {
    readonly infusion?: number;
    readonly byWeek?: readonly { readonly fromWeek: number; readonly toWeek?: number; readonly days: number }[];
  };
  readonly meld?: { readonly unrecordedDialysis?: 'assume-none' | 'unknown' };
}

export interface ArmJson {
  readonly id: string;
  readonly aliases?: readonly string[];
  readonly label: string;
  readonly registryLabel: string;
  readonly role?: ArmRole;
  readonly stage?: 1 | 2;
  readonly from?: string;
  readonly rerandomisation?: { readonly week: number; readonly into: readonly string[] };
  readonly doses: readonly DoseBlockJson[];
}

export interface DoseBlockJson {
  readonly weeks: readonly number[];
  readonly product: Product;
  readonly dose?: DoseJson;
  readonly tolerance?: number;
}

export type DoseJson =
  | { readonly unit: '{cells}'; readonly value: number }
  | { readonly unit: '{cells}/kg'; readonly value: number; readonly weightLoinc?: string; readonly weightWithinDaysBefore?: number };

export interface VisitJson {
  readonly code: string;
  readonly week?: number;
  readonly window?: VisitWindow;
  readonly arms?: readonly string[];
}
