/**
 * Fixture cases (fixtures/<case>/): input FHIR Bundles sent in order over HTTP
 * as an EHR would, and the CRF values expected afterwards. Used by the fixture
 * runner (test/integration/fixtures.test.ts) and by `npm run demo`, so the demo
 * shows exactly what the tests check.
 *
 * Layout of a case:
 *   input.json, input-2.json, ...   Bundles (batch/transaction/collection), sent in name order,
 *                                   waiting for the workers after each
 *   expected.json                   { "description", "site"?, "crf": { "<subject>": [ {trial, form, item, value, unit, effective?, source?} ] },
 *                                     "inbound"?: { "<state>": count }, "reviews"?: [ {reason, subject?} ] }
 */
import fs from 'node:fs';
import path from 'node:path';

export const FIXTURES_DIR = path.resolve(__dirname, '..', 'fixtures');

export interface ExpectedValue {
  trial: string;
  form: string;
  item: string;
  value: number | string;
  unit: string | null;
  effective?: string;
  source?: string;
}

/** Expected subject-report fragments (fixtures/<case>/report.json). */
export interface ReportExpectation {
  description: string;
  trial: string;
  asOf: string;
  /** The sending site's time zone (calendar days of visit windows, clinical-reference §6). */
  timeZone: string;
  /** Per subject: a fragment of the report; objects match by the keys given, arrays by containment. */
  subjects: Record<string, Record<string, unknown> & { flagsAbsent?: Record<string, unknown>[] }>;
}

export interface FixtureCase {
  name: string;
  dir: string;
  inputs: { file: string; body: unknown }[];
  report?: ReportExpectation;
  expected?: {
    description: string;
    site?: string;
    crf: Record<string, ExpectedValue[]>;
    inbound?: Record<string, number>;
    reviews?: { reason: string; subject?: string }[];
  };
}

export function listFixtures(dir = FIXTURES_DIR): FixtureCase[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && ['expected.json', 'report.json'].some((f) => fs.existsSync(path.join(dir, d.name, f))))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const cdir = path.join(dir, name);
      const inputs = fs
        .readdirSync(cdir)
        .filter((f) => /^input(-\d+)?\.json$/.test(f))
        .sort((a, b) => (a === 'input.json' ? -1 : b === 'input.json' ? 1 : Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0])))
        .map((file) => ({ file, body: JSON.parse(fs.readFileSync(path.join(cdir, file), 'utf8')) }));
      const read = (f: string) => (fs.existsSync(path.join(cdir, f)) ? JSON.parse(fs.readFileSync(path.join(cdir, f), 'utf8')) : undefined);
      return { name, dir: cdir, inputs, expected: read('expected.json'), report: read('report.json') };
    });
}

/** POSTs one Bundle to the receiver; throws with the OperationOutcome on a non-2xx answer. */
export async function sendBundle(baseUrl: string, token: string, body: unknown): Promise<any> {
  const res = await fetch(`${baseUrl}/fhir`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST /fhir answered ${res.status}: ${text.slice(0, 2000)}`);
  return JSON.parse(text);
}

/** The comparable projection of a CRF value row from GET /api/subjects/{s}/crf. */
export function projectValue(v: { trial: string; form: string; item: string; value: number | string; unit: string | null; effective: string; source: { reference: string } }, like: ExpectedValue): ExpectedValue {
  return {
    trial: v.trial, form: v.form, item: v.item, value: v.value, unit: v.unit,
    ...(like.effective !== undefined ? { effective: v.effective } : {}),
    ...(like.source !== undefined ? { source: v.source.reference } : {}),
  };
}

const valueKey = (v: ExpectedValue) => JSON.stringify([v.trial, v.form, v.item, v.value, v.unit, v.effective ?? '', v.source ?? '']);

/** Differences between the CRF values one site produced for a subject and the expected ones (empty = match). */
export function diffValues(actual: readonly Parameters<typeof projectValue>[0][], expected: readonly ExpectedValue[]): string[] {
  const template = expected[0] ?? ({} as ExpectedValue);
  const got = actual.map((v) => valueKey(projectValue(v, template)));
  const want = expected.map(valueKey);
  const missing = want.filter((w) => !got.includes(w)).map((w) => `missing ${w}`);
  const extra = got.filter((g) => !want.includes(g)).map((g) => `unexpected ${g}`);
  return [...missing, ...extra];
}

/**
 * Differences between an actual report and an expected fragment: objects match
 * on the keys the fragment gives, arrays by containment (each expected element
 * matches some actual element), scalars by equality. `flagsAbsent` lists flags
 * that must NOT be raised.
 */
export function diffFragment(actual: unknown, expected: unknown, at = '$'): string[] {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at}: expected an array`];
    return expected.flatMap((e, i) => (actual.some((a) => diffFragment(a, e).length === 0) ? [] : [`${at}[${i}]: no element matches ${JSON.stringify(e)}`]));
  }
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object') return [`${at}: expected an object, got ${JSON.stringify(actual)}`];
    const a = actual as Record<string, unknown>;
    return Object.entries(expected).flatMap(([k, v]) => {
      if (k === 'flagsAbsent') {
        const flags = (a.flags ?? []) as unknown[];
        return (v as unknown[]).flatMap((f, i) => (flags.some((x) => diffFragment(x, f).length === 0) ? [`${at}.flagsAbsent[${i}]: raised ${JSON.stringify(f)}`] : []));
      }
      return diffFragment(a[k], v, `${at}.${k}`);
    });
  }
  return actual === expected ? [] : [`${at}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}
