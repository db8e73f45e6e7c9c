/**
 * Pure clinical score library (no I/O): MELD, MELD-Na, MELD 3.0, Child-Pugh,
 * SOFA lab sub-scores, AARC, CLIF-C OF, EASL-CLIF ACLF grade, CLIF-C ACLF.
 *
 * Every score takes the units its formula needs (convert CRF units with the
 * helpers of `units.ts`) and returns a {@link ScoreResult}: `ok` with a value,
 * or `unknown` with the names of the missing inputs (clinical-reference §0).
 * Numbers and vectors: /work/shared/clinical-reference.md §3–§5.
 */
export * from './result';
export * from './numeric';
export * from './units';
export * from './west-haven';
export * from './meld';
export * from './meld-na';
export * from './meld3';
export * from './child-pugh';
export * from './sofa';
export * from './aarc';
export * from './clif-c-of';
export * from './easl-clif';
