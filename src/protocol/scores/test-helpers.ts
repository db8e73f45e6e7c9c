/**
 * Test-only helper for the score tests (not exported from index.ts).
 */

/** Returns the `ok` branch of a score result, or throws with the `unknown` one so the test fails readably. */
export function okOf<T extends { readonly status: string }>(result: T): Extract<T, { status: 'ok' }> {
  if (result.status !== 'ok') throw new Error(`expected an ok score, got ${JSON.stringify(result)}`);
  return result as Extract<T, { status: 'ok' }>;
}
