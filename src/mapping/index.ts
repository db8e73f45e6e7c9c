/**
 * Public API of the mapping engine (pure; design.md "mapping/"). Callers import from
 * here: the map-resource worker, the CLI and the protocol engine.
 */
export type { LoadProblem, MapContext, MapOutcome, MappedValue, ReviewNeeded, ReviewReason, MapResourceFn } from './types';
export type { CompiledRule, MappingSet } from './rule-types';
export { loadMappings, SCHEMA_PATH } from './load';
export { mapResource } from './map-resource';
export { MappingLoadError, formatProblem } from './problems';
export { DEFAULT_MAPPINGS_DIR } from './paths';
export { roundHalfUp } from './units';
export type { AnalyteInfo, SiteCodeTarget } from './rule-types';
export { unmappedCodings, type UnmappedCoding } from './unmapped';
export { applySiteCodeMaps, resolveTarget, type SiteCodeMapEntry, type SiteWithCodeMap } from './site-code-map';
export { PROTOCOL_SYSTEM_PREFIX, ruleCodes } from './codes';
export { itemUnits, type CrfQuantity, type ItemUnits, type SourceQuantity } from './item-units';
export { buildPreview, type PreviewItem, type PreviewReport } from './preview';
export { suggestAnalyte, type Suggestion } from './suggest';
