/**
 * Resource types trialbridge stores; everything else is acknowledged and ignored.
 * Condition carries history and clinicians' answers for eligibility (README "Clinical engine").
 * ResearchStudy is what ResearchSubject.study names by reference in the standard R4 shape.
 */
export const SUPPORTED_TYPES = ['Observation', 'MedicationAdministration', 'Patient', 'ResearchSubject', 'Condition', 'ResearchStudy'] as const;
export type SupportedType = (typeof SUPPORTED_TYPES)[number];
export const isSupportedType = (t: unknown): t is SupportedType => SUPPORTED_TYPES.includes(t as SupportedType);
