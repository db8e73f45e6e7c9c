/**
 * Which analyte group an unmapped local code probably is, from its display text or its
 * unit, so the IT team of a new site knows what to put in its code map. A suggestion,
 * never a mapping: nothing is mapped until a person adds it to the site's `codeMap`.
 *
 * By display: every significant word of one of the group's names (analyte name, id, or
 * a LOINC component such as "Bilirubin.total") appears in the display text; the most
 * specific name wins, and a unit that cannot measure the group vetoes it (Hemoglobin A1c in
 * % is not haemoglobin in g/dL; a platelet volume in fL is not a platelet count), except
 * the feed shorthand `K/uL` for 10*3/uL, which UCUM reads as Kelvin per microlitre (a
 * "Platelet count" in it is still a platelet count, with a unit to fix; README "Mapping rules").
 * By unit alone: exactly one group's codes carry that very unit (a commensurable unit is
 * too weak a hint: MCH in pg is not a body weight).
 */
import type { AnalyteInfo, MappingSet } from './rule-types';
import { commensurable, normaliseUnitText, ucumProblem } from './units';

/** A suggested group and what suggested it. */
export interface Suggestion {
  readonly analyte: string;
  readonly name: string;
  readonly by: 'display' | 'unit';
}

/** Words that name a specimen, a property or a method rather than what is measured. */
const NOISE = new Set([
  'in', 'of', 'by', 'or', 'and', 'the', 'a', 'serum', 'plasma', 'blood', 'bld', 'ser', 'plas', 'mass', 'volume', 'moles',
  'units', 'enzymatic', 'presence', 'automated', 'manual', 'count', 'method', 'with', 'no', 'addition', 'qualitative',
  'quantitative', 'level', 'test', 'measured', 'calculation', 'point', 'care', 'panel', 'name', 'not', 'verified',
]);

/** Significant words, singular ("Platelets" and "Platelet count" meet); the specimen "platelet poor plasma" is not an analyte. */
/** Dimensionless units: carried by one group here (PTA), yet by countless other tests (HbA1c, haematocrit). */
const GENERIC_UNITS = new Set(['%', '1']);

function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/platelet poor plasma/g, ' ')
    .split(/[^a-z0-9]+/)
    .map((w) => (w.length > 3 && w.endsWith('s') ? w.slice(0, -1) : w))
    .filter((w) => w.length > 1 && !NOISE.has(w));
}

/** The name phrases of a group, each as its significant words (the LOINC component is the part before '['). */
function phrases(a: AnalyteInfo): string[][] {
  const names = [a.name, a.id, ...a.codes.map((c) => c.name.split('[')[0])];
  return names.map((n) => words(n.replace(/\(.*?\)/g, ' '))).filter((p) => p.length > 0);
}

function unitFits(a: AnalyteInfo, unit: string): boolean {
  return a.codes.some((c) => c.unit !== null && commensurable(unit, c.unit));
}

/** The UCUM reading of a feed unit, or null when it is not valid UCUM. */
function ucum(unit: string | null): string | null {
  if (!unit) return null;
  const u = normaliseUnitText(unit);
  return ucumProblem(u) === null ? u : null;
}

/** The group an unmapped code's display text or unit suggests, or null. */
export function suggestAnalyte(set: MappingSet, display: string | null, unit: string | null): Suggestion | null {
  const mapped = set.analytes.filter((a) => a.codes.some((c) => set.analyteOfCode(c.code)));
  const u = ucum(unit);
  let named = false;
  if (display) {
    const have = new Set(words(display));
    let best: { a: AnalyteInfo; score: number } | null = null;
    for (const a of mapped) {
      const score = Math.max(0, ...phrases(a).filter((p) => p.every((w) => have.has(w))).map((p) => p.length));
      named ||= score > 0;
      const vetoed = u !== null && a.valueType === 'quantity' && !unitFits(a, u) && !(u.startsWith('K/') && unitFits(a, `10*3${u.slice(1)}`));
      if (score > 0 && !vetoed && (!best || score > best.score)) best = { a, score };
    }
    if (best) return { analyte: best.a.id, name: best.a.name, by: 'display' };
  }
  // A display naming a group whose units do not fit names something else (Hemoglobin A1c); ratios say nothing.
  if (u && !named && !GENERIC_UNITS.has(u) && !u.startsWith('{')) {
    const fits = mapped.filter((a) => a.valueType === 'quantity' && a.codes.some((c) => c.unit === u));
    if (fits.length === 1) return { analyte: fits[0].id, name: fits[0].name, by: 'unit' };
  }
  return null;
}
