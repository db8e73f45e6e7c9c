/**
 * Contract between the mapping engine (pure, src/mapping/) and its callers
 * (the map-resource worker, the CLI, the protocol engine).
 *
 * A mapping turns one FHIR resource into zero or more CRF values for one trial.
 * Rules are data (mappings/*.json), validated and compiled once at load
 * (design.md habit 1); nothing parses FHIRPath per message.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { MappingSet } from './rule-types';

/** Why a resource (or one rule applied to it) could not produce a CRF value. */
export type ReviewReason =
  /** The trial has no mapping rules at all (configuration). */
  | 'no-rule'
  /** Observation.code names two different analyte groups: which one the value is cannot be decided. */
  | 'ambiguous-code'
  /** The value is absent (no valueQuantity/valueCodeableConcept/..., or dataAbsentReason). */
  | 'missing-value'
  /** valueQuantity has neither a UCUM code nor a unit text. */
  | 'missing-unit'
  /** The unit is not valid UCUM (e.g. `K/uL`, a SNOMED code in valueQuantity.code). */
  | 'invalid-unit'
  /** The unit is valid UCUM but cannot be converted to the CRF unit (e.g. Kelvin per µL to 10*9/L). */
  | 'unit-not-convertible'
  /** No effective[x] nor issued: the CRF visit date cannot be known. */
  | 'missing-effective-time'
  /** The resource status says the value must not be used (entered-in-error, cancelled). */
  | 'unusable-status'
  /** The value has an unexpected type for the rule (e.g. a string where a quantity is needed). */
  | 'unexpected-value-type';

/** A CRF value produced by a rule, with provenance. */
export interface MappedValue {
  readonly kind: 'value';
  readonly trial: string;
  readonly form: string;
  readonly item: string;
  /** Converted value, rounded to the CRF item's stored precision (half-up). Numbers for quantities, strings for coded/ordinal items. */
  readonly value: number | string;
  /** CRF unit (UCUM), or null for unitless/coded items. */
  readonly unit: string | null;
  readonly originalValue: number | string;
  readonly originalUnit: string | null;
  /** ISO 8601 effective time (effectiveDateTime, effectivePeriod.start, effectiveInstant or issued). */
  readonly effective: string;
  readonly ruleId: string;
  /** The LOINC code that matched. */
  readonly code: string;
  /** `system|code` of the site's local coding when the match came through the site code map, else null. */
  readonly localCode: string | null;
}

/** A permanent problem: becomes a review item, never retried. */
export interface ReviewNeeded {
  readonly kind: 'review';
  readonly trial: string;
  /** The rule that matched by code, when one did. */
  readonly ruleId: string | null;
  readonly reason: ReviewReason;
  /** Precise, PHI-free text: which element, which unit string, which code. */
  readonly detail: string;
}

export type MapOutcome = MappedValue | ReviewNeeded;

/** Optional context the caller knows and the resource may lack. */
export interface MapContext {
  /** Effective time inherited from a DiagnosticReport that lists this Observation in `result`. */
  readonly fallbackEffective?: string;
  /** The sending site, whose code map (if any) translates its local codes. */
  readonly site?: string;
}

/** One problem found while loading mapping files. */
export type { LoadProblem } from '../util/load-problems';

export type { CompiledRule, MappingSet } from './rule-types';

/** Signature of the pure mapping function (implemented by src/mapping/map-resource.ts). */
export type MapResourceFn = (set: MappingSet, trial: string, resource: Resource, ctx?: MapContext) => MapOutcome[];
