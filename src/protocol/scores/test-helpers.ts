/**
 * Test-only helpers for the score tests (not exported from index.ts).
 */
import { DEFAULT_MAPPINGS_DIR, itemUnits, loadMappings } from '../../mapping';

/** Returns the `ok` branch of a score result, or throws with the `unknown` one so the test fails readably. */
export function okOf<T extends { readonly status: string }>(result: T): Extract<T, { status: 'ok' }> {
  if (result.status !== 'ok') throw new Error(`expected an ok score, got ${JSON.stringify(result)}`);
  return result as Extract<T, { status: 'ok' }>;
}

/** The shipped converter (mappings/analytes.json factors, clinical-reference §3), as the engine uses it. */
const units = itemUnits(loadMappings(DEFAULT_MAPPINGS_DIR), 'NCT02812121');

function converted(item: string, value: number, from: string, to: string): number {
  const v = units.convert(item, value, from, to);
  if (v === null) throw new Error(`${item} ${from} -> ${to} is not convertible`);
  return v;
}

/** Bilirubin µmol/L → mg/dL through the one converter. */
export const bilirubinUmolLToMgDl = (umolL: number): number => converted('TBIL', umolL, 'umol/L', 'mg/dL');
/** Creatinine µmol/L → mg/dL through the one converter. */
export const creatinineUmolLToMgDl = (umolL: number): number => converted('CREA', umolL, 'umol/L', 'mg/dL');
/** Albumin g/L → g/dL through the one converter. */
export const albuminGLToGDl = (gL: number): number => converted('ALB', gL, 'g/L', 'g/dL');
