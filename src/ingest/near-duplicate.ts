/**
 * Possible duplicates among Observations without a natural id (README "FHIR
 * receiver"): a result POSTed without id or identifier is stored under an id
 * derived from its content, so a corrected value sent the same way cannot be
 * linked to the first. Two such Observations of one patient with a shared
 * code and the same effective instant but different content are surfaced
 * to a data manager (review reason `possible-duplicate`) instead of becoming
 * two automatic CRF values.
 */

/** The review reason raised at the door for a possible duplicate. */
export const POSSIBLE_DUPLICATE = 'possible-duplicate';

/** What two Observations are compared on. */
export interface NearKey {
  readonly codings: readonly { system?: string; code: string }[];
  /** Effective instant in ms since the epoch (an instant, so offsets do not matter). */
  readonly effectiveMs: number;
}

/** effective[x] (dateTime, instant, or period start), else the Bundle's DiagnosticReport time kept in the context. */
function effectiveOf(body: Record<string, unknown>, context: Record<string, unknown> | null): unknown {
  const period = body.effectivePeriod as { start?: unknown } | undefined;
  return body.effectiveDateTime ?? body.effectiveInstant ?? period?.start ?? context?.fallbackEffective;
}

/** The comparison key of an Observation, or null when it has no coded code or no usable time (nothing to compare on). */
export function nearKey(body: Record<string, unknown>, context: Record<string, unknown> | null): NearKey | null {
  const coding = (body.code as { coding?: unknown } | undefined)?.coding;
  const codings = Array.isArray(coding)
    ? coding.flatMap((c: { system?: unknown; code?: unknown } | null) =>
        c && typeof c.code === 'string' ? [typeof c.system === 'string' ? { system: c.system, code: c.code } : { code: c.code }] : [])
    : [];
  const eff = effectiveOf(body, context);
  const effectiveMs = typeof eff === 'string' ? Date.parse(eff) : NaN;
  if (!codings.length || Number.isNaN(effectiveMs)) return null;
  return { codings, effectiveMs };
}

/** Same instant and at least one shared coding (system and code). */
export function sameResultSlot(a: NearKey, b: NearKey): boolean {
  return a.effectiveMs === b.effectiveMs && a.codings.some((x) => b.codings.some((y) => x.code === y.code && x.system === y.system));
}
