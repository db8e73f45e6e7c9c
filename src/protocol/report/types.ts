/**
 * The subject report: one JSON shape used everywhere (offline `trialbridge
 * evaluate`, the live evaluate-subject job, GET /api/subjects/{s}/report).
 * JSON schema: mappings/schema/subject-report.schema.json.
 */

export type FlagCode =
  | 'eligible'
  | 'ineligible'
  | 'eligibility-needs-review'
  | 'visit-out-of-window'
  | 'visit-missed'
  | 'dose-missed'
  | 'dose-partial'
  | 'dose-deviation'
  | 'dose-interval-short'
  | 'dose-unscheduled'
  | 'dose-needs-review'
  | 'value-needs-review';

export type Severity = 'info' | 'warning' | 'error';

export interface ReportFlag {
  readonly code: FlagCode;
  readonly severity: Severity;
  readonly visit: string | null;
  readonly criterion: string | null;
  readonly message: string;
  readonly evidence: readonly string[];
}

export interface ReportCrfValue {
  readonly visit: string | null;
  readonly form: string;
  readonly item: string;
  readonly value: number | string;
  readonly unit: string | null;
  readonly source: string;
  /** The instant, as stored (UTC when it went through the database). */
  readonly effective: string;
  /** The calendar date at the site (its TRIALBRIDGE_SITES timeZone), the day the report places the value on. */
  readonly localDate: string | null;
  /** The same instant as site wall-clock time with the site's offset, e.g. 2024-03-04T07:00:00+08:00; null for a date-only value. */
  readonly localDateTime: string | null;
  /** CRF status (auto, accepted, ...), or `unscheduled` / `out-of-window` / `not-selected` placement notes. */
  readonly status: string;
}

export interface SubjectReport {
  readonly trial: string;
  readonly subject: string;
  /** `Patient/<id>`: a reference, never demographics. */
  readonly patient: string | null;
  readonly arm: string | null;
  readonly asOf: string;
  readonly day0: string | null;
  readonly eligibility: {
    readonly overall: 'eligible' | 'ineligible' | 'needs-review';
    readonly criteria: readonly { readonly id: string; readonly verdict: 'met' | 'not-met' | 'unknown'; readonly reason: string; readonly evidence: readonly string[] }[];
  };
  readonly visits: readonly { readonly visit: string; readonly target: string; readonly windowStart: string; readonly windowEnd: string; readonly actual: string | null; readonly status: string }[];
  readonly doses: readonly { readonly visit: string; readonly status: string; readonly dose: number | null; readonly unit: string | null; readonly source: string | null }[];
  readonly scores: readonly { readonly name: string; readonly visit: string; readonly value: number; readonly raw: number | null; readonly class: string | null }[];
  readonly crf: readonly ReportCrfValue[];
  readonly flags: readonly ReportFlag[];
}

/** An open review item of the subject (a value that could not be mapped), shown as a value-needs-review flag. */
export interface OpenReview {
  readonly reason: string;
  readonly detail: string;
  readonly source: string;
}
