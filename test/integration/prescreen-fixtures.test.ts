/**
 * Pre-screen fixtures, live (README "Pre-screening and alerts"): each
 * fixtures/prescreen-<case>/ is sent over HTTP as its own site, which
 * pre-screens the case's trials for every patient it sends (scope "all"). The
 * patients have no ResearchSubject, so their labs are parked as `unmatched`
 * and pre-screened by the workers; afterwards each patient's pre-screen per
 * trial must match prescreen.json.
 *
 * Layout of a case (beside input.json, input-2.json, ... as in every fixture):
 *   prescreen.json  { description, trials: [trial ids the site pre-screens],
 *                     patients: { <Patient id>: { <trial>: null | expectation } } }
 *   expectation     { status, ageYears?, met?: [criterion ids whose evidence is listed],
 *                     toCheck?: [judgement criterion ids listed to check, by containment],
 *                     reasonIncludes?: text of the withdrawal reason, flag?: open potential-candidate flag }
 *   null            the trial raises nothing for that patient: no candidate row, no flag.
 *
 * The screening date of a pre-screen is today (site time), so dates in the
 * inputs are relative: "{{today-1d}}", "{{today-45y-30d}}" (years first, then
 * days), substituted with the site's local calendar date before sending.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sha256Hex } from '../../src/http';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { FIXTURES_DIR, sendBundle } from '../../scripts/fixtures-lib';
import { DEFAULT_MAPPINGS_DIR, loadMappings } from '../../src/mapping';
import { prescreen } from '../../src/protocol/prescreen';
import { loadTrials } from '../../src/protocol/trials';
import { substituteDates } from '../helpers/relative-dates';
import { startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

const TIME_ZONE = 'Asia/Shanghai';

interface Expectation {
  status: 'potential' | 'withdrawn' | 'dismissed' | 'screening';
  ageYears?: number;
  met?: string[];
  toCheck?: string[];
  reasonIncludes?: string;
  flag?: boolean;
}
interface PrescreenCase {
  name: string;
  inputs: unknown[];
  expected: { description: string; trials: string[]; patients: Record<string, Record<string, Expectation | null>> };
}

const substitute = (text: string) => substituteDates(text, TIME_ZONE);

function listPrescreenCases(): PrescreenCase[] {
  return fs
    .readdirSync(FIXTURES_DIR)
    .filter((d) => d.startsWith('prescreen-') && fs.existsSync(path.join(FIXTURES_DIR, d, 'prescreen.json')))
    .sort()
    .map((name) => {
      const dir = path.join(FIXTURES_DIR, name);
      const inputs = fs
        .readdirSync(dir)
        .filter((f) => /^input(-\d+)?\.json$/.test(f))
        .sort((a, b) => (a === 'input.json' ? -1 : b === 'input.json' ? 1 : Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0])))
        .map((f) => JSON.parse(substitute(fs.readFileSync(path.join(dir, f), 'utf8'))));
      return { name, inputs, expected: JSON.parse(fs.readFileSync(path.join(dir, 'prescreen.json'), 'utf8')) };
    });
}

/** Each listed criterion's verdict in the evidence and whether values with dates back it. */
function metWithValues(evidence: readonly { criterion: string; verdict: string; values: readonly { effective?: string }[] }[], ids: readonly string[]) {
  return ids.map((criterion) => {
    const e = evidence.find((x) => x.criterion === criterion);
    // Age rests on the birth date, not a lab value: its evidence is the Patient reference.
    const backed = !!e && (criterion === 'I1' || criterion === 'I3b' || e.values.some((v) => !!v.effective));
    return { criterion, verdict: e?.verdict, values: backed };
  });
}

const cases = listPrescreenCases();
const token = (name: string) => `prescreen-token-${name}`;
const siteOf = (name: string) => `ps-${name.replace(/^prescreen-/, '')}`.slice(0, 64);
let stack: TestStack;

beforeAll(async () => {
  const sites = cases.map((c) => ({ id: siteOf(c.name), tokenSha256: sha256Hex(token(c.name)), timeZone: TIME_ZONE, prescreen: { trials: c.expected.trials, scope: 'all' } }));
  stack = await startStack('prescreen-fixtures', { TRIALBRIDGE_SITES: JSON.stringify(sites) });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

/** Waits until intake, pre-screening and evaluation queues are empty. */
async function prescreened(): Promise<void> {
  await stack.settle();
  const queues = [stack.prescreenQueue.queue, stack.evaluateQueue.queue];
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
    if (counts.every((c) => Object.values(c).every((n) => n === 0))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('pre-screen jobs did not finish');
}

test('every pre-screen case has a prescreen.json for each trial file it names', () => {
  expect(cases.length).toBeGreaterThanOrEqual(4);
  const trials = new Set(fs.readdirSync(path.resolve(__dirname, '../../mappings/trials')).filter((f) => /^[A-Z0-9-]+\.json$/.test(f)).map((f) => f.replace(/\.json$/, '')));
  for (const c of cases) for (const t of c.expected.trials) expect(trials).toContain(t);
  // One case per shipped trial (NCT03945487 included: it shows that nothing auto-passes).
  const covered = new Set(cases.flatMap((c) => Object.values(c.expected.patients).flatMap((p) => Object.keys(p))));
  for (const t of trials) expect(covered).toContain(t);
});

/** The patients' latest resources across the inputs, as the store keeps them (a later version of an id replaces it). */
function latestResources(c: PrescreenCase): Map<string, { resourceType: string; id: string } & Record<string, unknown>> {
  const out = new Map<string, { resourceType: string; id: string } & Record<string, unknown>>();
  for (const b of c.inputs as { entry: { resource: { resourceType: string; id: string } & Record<string, unknown> }[] }[]) {
    for (const e of b.entry) out.set(`${e.resource.resourceType}/${e.resource.id}`, e.resource);
  }
  return out;
}

describe('pure engine (src/protocol/prescreen.ts) on the same cases', () => {
  const trials = loadTrials();
  const mappings = loadMappings(DEFAULT_MAPPINGS_DIR);
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const all = [...latestResources(c).values()];
    for (const [patient, byTrial] of Object.entries(c.expected.patients)) {
      const pat = all.find((r) => r.resourceType === 'Patient' && r.id === patient) as Patient | undefined;
      const observations = all.filter((r) => r.resourceType === 'Observation' && (r.subject as { reference: string }).reference === `Patient/${patient}`).map((r) => ({ resource: r as unknown as Observation }));
      for (const [trial, want] of Object.entries(byTrial)) {
        const result = prescreen({ trial: trials.get(trial)!, mappings, site: { id: 'ps', timeZone: TIME_ZONE }, patientId: patient, patient: pat ?? null, observations, now: new Date().toISOString() });
        // The engine is stateless: a withdrawn candidate is one whose latest labs no longer qualify.
        const kind = want && want.status === 'potential' ? 'potential' : 'none';
        expect({ patient, trial, kind: result.kind }).toEqual({ patient, trial, kind });
        if (want?.ageYears !== undefined) expect(result.ageYears).toBe(want.ageYears);
        if (want?.met) expect(metWithValues(result.evidence, want.met)).toEqual(want.met.map((criterion) => ({ criterion, verdict: 'met', values: true })));
        if (want?.toCheck) expect(result.toCheck.map((t) => t.id)).toEqual(expect.arrayContaining(want.toCheck));
        if (want?.reasonIncludes && result.kind === 'none') expect(result.reason).toContain(want.reasonIncludes);
      }
    }
  });
});

describe.each(cases.map((c) => [c.name, c] as const))('live %s', (name, c) => {
  test(c.expected.description, async () => {
    const site = siteOf(name);
    for (const input of c.inputs) {
      await sendBundle(stack.url, token(name), input);
      await prescreened();
    }
    for (const [patient, byTrial] of Object.entries(c.expected.patients)) {
      for (const [trial, want] of Object.entries(byTrial)) {
        const rows = await stack.db.query<{ id: string }>('SELECT id FROM prescreen_candidates WHERE trial = $1 AND site = $2 AND patient_id = $3', [trial, site, patient]);
        if (want === null) {
          expect({ patient, trial, candidates: rows.rows }).toEqual({ patient, trial, candidates: [] });
          continue;
        }
        expect(rows.rows).toHaveLength(1);
        const id = rows.rows[0].id;
        expect(id).toMatch(/^PS-[A-Z2-7]{10}$/);
        const res = await stack.api(`/prescreen/${id}`, USER_TOKENS.inv);
        expect(res.status).toBe(200);
        const got = res.body;
        expect({ patient, trial, status: got.status }).toEqual({ patient, trial, status: want.status });
        expect(got).toMatchObject({ id, trial, site });
        if (want.ageYears !== undefined) expect(got.ageYears).toBe(want.ageYears);
        if (want.met) expect(metWithValues(got.evidence, want.met)).toEqual(want.met.map((criterion) => ({ criterion, verdict: 'met', values: true })));
        if (want.toCheck) {
          const listed = (got.toCheck as { id: string }[]).map((x) => x.id);
          expect(listed).toEqual(expect.arrayContaining(want.toCheck));
        }
        if (want.reasonIncludes) expect(got.reason).toContain(want.reasonIncludes);
        if (want.flag !== undefined) {
          const flags = await stack.db.query<{ status: string }>("SELECT status FROM flags WHERE code = 'potential-candidate' AND subject = $1 AND trial = $2 AND site = $3 ORDER BY id", [id, trial, site]);
          expect(flags.rows.length).toBeGreaterThanOrEqual(1);
          expect(flags.rows.filter((f) => f.status === 'open')).toHaveLength(want.flag ? 1 : 0);
        }
      }
    }
    // Nothing the site sent raised a flag for a trial the case expects nothing of.
    const nothing = Object.entries(c.expected.patients).flatMap(([, t]) => Object.entries(t).filter(([, w]) => w === null).map(([trial]) => trial));
    if (nothing.length) {
      const raised = await stack.db.query("SELECT f.id FROM flags f LEFT JOIN prescreen_candidates p ON p.id = f.subject WHERE f.site = $1 AND f.code = 'potential-candidate' AND p.id IS NULL", [site]);
      expect(raised.rows).toEqual([]);
    }
  }, 60_000);
});
