/** Which Patient a resource is about (pure). */
import type { Reference, Resource } from '@medplum/fhirtypes';

/**
 * The id of the logical Patient a reference points to: `Patient/123`,
 * `https://ehr/fhir/Patient/123` or `Patient/123/_history/2` → `123`. A
 * reference by identifier only becomes `identifier:<system>|<value>`, resolved
 * by the worker through the Patient's identifiers.
 */
export function patientKey(ref: Reference | undefined): string | null {
  if (!ref) return null;
  if (typeof ref.reference === 'string') {
    const m = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref.reference);
    if (m) return m[1];
  }
  if (ref.identifier?.value) return `identifier:${ref.identifier.system ?? ''}|${ref.identifier.value}`;
  return null;
}

/** The Patient a resource is about (or is). */
export function patientOf(resource: Resource): string | null {
  switch (resource.resourceType) {
    case 'Patient':
      return resource.id ?? null;
    case 'Observation':
    case 'MedicationAdministration':
    case 'Condition':
      return patientKey(resource.subject);
    case 'ResearchSubject':
      return patientKey(resource.individual);
    default:
      return null;
  }
}

