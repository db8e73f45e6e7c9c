/**
 * The controlled reasons a person gives when reviewing data (pure data).
 *
 * 21 CFR Part 11 §11.10(e) asks that a change to a record not obscure the
 * previous entry and that the trail say why; a fixed list keeps the "why"
 * comparable across sites and monitors (ICH E6(R2) §4.9.3: changes to CRF
 * data are explained). `other` is allowed everywhere but needs a free-text note.
 * README "Review API" lists them.
 */

export interface ReviewReason {
  readonly code: string;
  readonly label: string;
}

export type ReasonKind = 'correct' | 'reject' | 'dismiss';

/** The code that always requires a note. */
export const OTHER_REASON = 'other';

/** Longest note kept (a note explains; it is no place for a document). */
export const MAX_NOTE_LENGTH = 2000;

export const REVIEW_REASONS: Readonly<Record<ReasonKind, readonly ReviewReason[]>> = Object.freeze({
  correct: Object.freeze([
    { code: 'transcription-error', label: 'Transcription or entry error at the site' },
    { code: 'wrong-unit', label: 'The source unit was wrong or missing' },
    { code: 'source-document-verified', label: 'Verified against the source document' },
    { code: 'lab-amended', label: 'The laboratory amended the result' },
    { code: 'wrong-item', label: 'Mapped to the wrong CRF item' },
    { code: OTHER_REASON, label: 'Other (note required)' },
  ]),
  reject: Object.freeze([
    { code: 'not-protocol-sample', label: 'Not a protocol sample (e.g. an unscheduled or local test)' },
    { code: 'wrong-subject', label: 'The result belongs to another patient' },
    { code: 'duplicate', label: 'Duplicate of another value' },
    { code: 'specimen-problem', label: 'Specimen problem (haemolysed, clotted, mislabelled)' },
    { code: 'entered-in-error', label: 'Entered in error at the site' },
    { code: OTHER_REASON, label: 'Other (note required)' },
  ]),
  dismiss: Object.freeze([
    { code: 'not-relevant', label: 'Not relevant to the trial' },
    { code: 'duplicate', label: 'Duplicate of another item or value' },
    { code: 'resolved-at-source', label: 'Resolved at the source (a corrected resource was sent)' },
    { code: 'not-a-protocol-sample', label: 'Not a protocol sample' },
    { code: OTHER_REASON, label: 'Other (note required)' },
  ]),
});

/** True when `code` is one of the `kind` reasons. */
export function isReason(kind: ReasonKind, code: unknown): code is string {
  return typeof code === 'string' && REVIEW_REASONS[kind].some((r) => r.code === code);
}
