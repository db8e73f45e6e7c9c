/**
 * `trialbridge import` as an operator runs it (a child process) against real
 * PostgreSQL + Redis, with the workers of a test stack on the same schema and
 * queue prefix: exact summary counts, exact inbound rows, precise rejection
 * reasons (line + FHIRPath), exit codes, no PHI in the output, and the
 * imported Observations mapped to CRF values of an enrolled subject.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freshSchema } from '../helpers/env';
import { startStack, testEnv, type TestStack } from '../helpers/stack';

const BIN = path.resolve(__dirname, '../../bin/trialbridge');
const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };

let stack: TestStack;
let env: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  const schema = freshSchema('import');
  stack = await startStack('import', {}, 'start', { schema });
  env = { ...baseEnv, ...testEnv('import'), TRIALBRIDGE_QUEUE_PREFIX: stack.config.queuePrefix, TRIALBRIDGE_DB_SCHEMA: schema, LOG_LEVEL: 'warn' };
  // The file name is what Synthea would call it: a patient's name. It must not appear in the output.
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-import-'));
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], extra: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(BIN, ['import', ...args], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function write(name: string, lines: unknown[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return file;
}

const obs = (id: string, patient: string, loinc: string, value: number, unit: string, day: number, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation', id, status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: loinc }] },
  subject: { reference: `Patient/${patient}` },
  effectiveDateTime: `2024-03-${String(day).padStart(2, '0')}T08:00:00+08:00`,
  valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  ...extra,
});

const SECRET_NAME = 'Zelda Quintessa';
const SECRET_DOB = '1961-07-14';

describe('an NDJSON backfill', () => {
  let result: Awaited<ReturnType<typeof run>>;
  let summary: any;
  let file: string;

  beforeAll(async () => {
    // Already stored through HTTP before the backfill: the import sees it as a duplicate.
    const pre = await stack.fhir('POST', '/Observation', obs('o-imp-2', 'p-imp-1', '1751-7', 35, 'g/L', 1));
    expect(pre.status).toBe(201);
    file = write('Zelda_Quintessa_1961.ndjson', [
      /* 1 */ { resourceType: 'Patient', id: 'p-imp-1', gender: 'female', birthDate: SECRET_DOB, name: [{ text: SECRET_NAME }] },
      /* 2 */ { resourceType: 'ResearchSubject', id: 'rs-imp-1', status: 'on-study', identifier: [{ value: 'IMP-001' }], study: { identifier: { value: 'NCT05985863' } }, individual: { reference: 'Patient/p-imp-1' } },
      /* 3 */ { resourceType: 'Patient', id: 'p-imp-2', gender: 'male' },
      /* 4 */ obs('o-imp-1', 'p-imp-1', '14631-6', 85.5, 'umol/L', 1),
      /* 5 */ obs('o-imp-2', 'p-imp-1', '1751-7', 35, 'g/L', 1),
      /* 6 */ obs('o-imp-1', 'p-imp-1', '14631-6', 85.5, 'umol/L', 1),
      /* 7 */ '',
      /* 8 */ obs('o-imp-bad', 'p-imp-1', '14631-6', 40, 'umol/L', 2, { status: 'done' }),
      /* 9 */ `{"resourceType": "Patient", "id": "p-imp-9", "name": [{"text": "${SECRET_NAME}"}]`,
      /* 10 */ { resourceType: 'Encounter', id: 'enc-1', status: 'finished' },
      /* 11 */ obs('o-imp-3', 'p-imp-2', '14631-6', 20, 'umol/L', 3),
      /* 12 */ { resourceType: 'Observation', id: 'o-imp-nocode', status: 'final', subject: { reference: 'Patient/p-imp-1' } },
      /* 13 */ { resourceType: 'Bundle', type: 'batch', entry: [
        { resource: obs('o-imp-4', 'p-imp-1', '6301-6', 1.6, '{INR}', 4) },
        { resource: obs('o-imp-bad2', 'p-imp-1', '6301-6', 1.7, '{INR}', 5, { status: 'nonsense' }) },
        { resource: { resourceType: 'Organization', id: 'org-1', name: 'Lab' } },
      ] },
    ]);
    result = await run([file, '--site', 'site-a', '--json']);
    summary = JSON.parse(result.stdout);
  }, 60_000);

  test('exit 0 and exact counts', () => {
    expect(result.code).toBe(0);
    expect(summary).toMatchObject({
      status: 'completed', site: 'site-a', format: 'ndjson', lines: 13, resources: 14,
      accepted: 6, acceptedByType: { Patient: 2, ResearchSubject: 1, Observation: 3 },
      duplicate: 2, rejected: 4, ignored: 2, ignoredByType: { Encounter: 1, Organization: 1 }, error: null,
    });
    expect(summary.accepted + summary.duplicate + summary.rejected + summary.ignored).toBe(summary.resources);
    expect(summary.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(summary.resourcesPerSecond).toBeGreaterThan(0);
  });

  test('rejected: one reason each, with line number and FHIRPath expression', () => {
    const reasons = Object.fromEntries(summary.rejectedReasons.map((r: any) => [r.reason, r]));
    expect(Object.keys(reasons).sort()).toEqual([
      'Bundle.entry[*].resource.status: Invalid code: expected one of registered, preliminary, final, amended, corrected, cancelled, entered-in-error, unknown',
      'Observation.code: Missing required property',
      'Observation.status: Invalid code: expected one of registered, preliminary, final, amended, corrected, cancelled, entered-in-error, unknown',
      'not valid JSON',
    ]);
    expect(reasons['Observation.status: Invalid code: expected one of registered, preliminary, final, amended, corrected, cancelled, entered-in-error, unknown'].examples)
      .toEqual([{ line: 8, resource: 'Observation/o-imp-bad', expression: 'Observation.status', message: expect.stringMatching(/^Invalid code: expected one of registered/) }]);
    expect(reasons['Observation.code: Missing required property'].examples).toEqual([{ line: 12, resource: 'Observation/o-imp-nocode', expression: 'Observation.code', message: 'Missing required property' }]);
    expect(reasons['not valid JSON']).toEqual({ reason: 'not valid JSON', count: 1, examples: [{ line: 9, resource: null, expression: null, message: expect.stringMatching(/ at character \d+$/) }] });
    const inBundle = reasons['Bundle.entry[*].resource.status: Invalid code: expected one of registered, preliminary, final, amended, corrected, cancelled, entered-in-error, unknown'];
    expect(inBundle.examples).toEqual([expect.objectContaining({ line: 13, expression: 'Bundle.entry[1].resource.status' })]);
  });

  test('inbound holds exactly the accepted resources, once each', async () => {
    const r = await stack.db.query<{ resource_type: string; resource_id: string; site: string }>('SELECT resource_type, resource_id, site FROM inbound ORDER BY resource_type, resource_id');
    expect(r.rows.map((x) => `${x.site} ${x.resource_type}/${x.resource_id}`)).toEqual([
      'site-a Observation/o-imp-1', 'site-a Observation/o-imp-2', 'site-a Observation/o-imp-3', 'site-a Observation/o-imp-4',
      'site-a Patient/p-imp-1', 'site-a Patient/p-imp-2', 'site-a ResearchSubject/rs-imp-1',
    ]);
  });

  test('no PHI in the output: no names, birth dates, file name or raw line text', () => {
    const all = result.stdout + result.stderr;
    for (const s of [SECRET_NAME, 'Zelda', SECRET_DOB, 'Quintessa', '"text"']) expect(all).not.toContain(s);
    expect(result.stderr).toBe('');
  });

  test('the workers map the imported Observations to CRF values of the enrolled subject', async () => {
    await stack.settle(30_000);
    const crf = await stack.db.query<{ item: string; source_id: string; unit: string; value: unknown }>(
      "SELECT item, source_id, unit, value FROM crf_values WHERE subject = 'IMP-001' AND trial = 'NCT05985863' AND status = 'auto' ORDER BY source_id",
    );
    expect(crf.rows.map((x) => [x.source_id, x.item, x.unit])).toEqual([
      ['o-imp-1', 'TBIL', 'mg/dL'],
      ['o-imp-2', 'ALB', 'g/L'],
      ['o-imp-4', 'INR', '{INR}'],
    ]);
    expect(Number(crf.rows[0].value)).toBe(5);
    // The patient who is not enrolled is parked, not lost.
    const states = await stack.db.query<{ resource_id: string; state: string }>("SELECT resource_id, state FROM inbound WHERE resource_type = 'Observation' ORDER BY resource_id");
    expect(Object.fromEntries(states.rows.map((x) => [x.resource_id, x.state]))).toEqual({ 'o-imp-1': 'mapped', 'o-imp-2': 'mapped', 'o-imp-3': 'unmatched', 'o-imp-4': 'mapped' });
  }, 40_000);

  test('importing the same file again changes nothing: everything is a duplicate', async () => {
    const again = await run([file, '--site', 'site-a']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('accepted:   0 new');
    expect(again.stdout).toContain('duplicate:  8 (already stored');
    expect(again.stdout).toContain('rejected:   4');
    expect(again.stdout).toMatch(/^ {6}line 8 Observation\/o-imp-bad: Observation\.status$/m);
    expect(again.stdout).toMatch(/^ {6}line 9: .* at character \d+$/m);
    const n = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbound');
    expect(Number(n.rows[0].n)).toBe(7);
  }, 60_000);
});

test('small batches: duplicates inside one batch and across batches are counted once; order of work is kept', async () => {
  const lines: unknown[] = [];
  for (let i = 0; i < 20; i++) {
    const o = obs(`o-small-${i}`, 'p-small', '14631-6', 10 + i, 'umol/L', 1 + (i % 28));
    lines.push(o);
    if (i % 5 === 0) lines.push(o); // the same version again, right after (same batch of 3 or the next)
  }
  const r = await run([write('small.ndjson', lines), '--site', 'site-b', '--batch', '3', '--json']);
  expect(r.code).toBe(0);
  const s = JSON.parse(r.stdout);
  expect(s).toMatchObject({ lines: 24, resources: 24, accepted: 20, duplicate: 4, rejected: 0, ignored: 0 });
  const n = await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM inbound WHERE site = 'site-b' AND resource_id LIKE 'o-small-%'");
  expect(Number(n.rows[0].n)).toBe(20);
}, 60_000);

test('a value PostgreSQL would refuse (a lone surrogate) is caught at validation and rejects that resource only; the rest of its batch is stored', async () => {
  const bad = obs('o-nul-2', 'p-nul', '14631-6', 12, 'umol/L', 2, { code: { coding: [{ system: 'http://loinc.org', code: '14631-6' }], text: 'a\ud800b' } });
  const r = await run([write('nul.ndjson', [obs('o-nul-1', 'p-nul', '14631-6', 11, 'umol/L', 1), bad, obs('o-nul-3', 'p-nul', '14631-6', 13, 'umol/L', 3)]), '--site', 'site-b', '--json']);
  expect(r.code).toBe(0);
  const s = JSON.parse(r.stdout);
  expect(s).toMatchObject({ accepted: 2, rejected: 1 });
  const why = 'contains an unpaired UTF-16 surrogate (not a Unicode character)';
  expect(s.rejectedReasons).toEqual([{ reason: `Observation.code.text: ${why}`, count: 1, examples: [{ line: 2, resource: 'Observation/o-nul-2', expression: 'Observation.code.text', message: why }] }]);
  const ids = await stack.db.query<{ resource_id: string }>("SELECT resource_id FROM inbound WHERE resource_id LIKE 'o-nul-%' ORDER BY resource_id");
  expect(ids.rows.map((x) => x.resource_id)).toEqual(['o-nul-1', 'o-nul-3']);
}, 60_000);

test('a single pretty-printed JSON Bundle: urn:uuid references resolved across entries', async () => {
  const file = path.join(dir, 'bundle.json');
  const uuid = '5f0c7a34-2b7e-4c1e-9a0e-1f2d3c4b5a69';
  fs.writeFileSync(file, JSON.stringify({
    resourceType: 'Bundle', type: 'transaction',
    entry: [
      { fullUrl: `urn:uuid:${uuid}`, resource: { resourceType: 'Patient', gender: 'female' }, request: { method: 'POST', url: 'Patient' } },
      { resource: { ...obs('o-doc-1', 'x', '14631-6', 30, 'umol/L', 6), subject: { reference: `urn:uuid:${uuid}` } }, request: { method: 'POST', url: 'Observation' } },
      { resource: { resourceType: 'Observation', status: 'final' }, request: { method: 'POST', url: 'Observation' } },
    ],
  }, null, 2));
  const r = await run([file, '--site', 'site-b', '--json']);
  expect(r.code).toBe(0);
  const s = JSON.parse(r.stdout);
  expect(s).toMatchObject({ format: 'json-document', resources: 3, accepted: 2, rejected: 1 });
  expect(s.rejectedReasons[0].examples[0]).toEqual({ line: null, resource: null, expression: 'Bundle.entry[2].resource.code', message: 'Missing required property' });
  const row = await stack.db.query<{ patient_id: string }>("SELECT patient_id FROM inbound WHERE resource_id = 'o-doc-1'");
  expect(row.rows[0].patient_id).toBe(uuid);
}, 60_000);

test('without a terminal, a progress line every 10,000 resources on stderr', async () => {
  const file = path.join(dir, 'many.ndjson');
  fs.writeFileSync(file, `${JSON.stringify({ resourceType: 'Encounter', status: 'finished' })}\n`.repeat(20_500));
  const r = await run([file, '--site', 'site-b']);
  expect(r.code).toBe(0);
  const progress = r.stderr.split('\n').filter((l) => l.startsWith('import: '));
  expect(progress).toHaveLength(2);
  expect(progress[0]).toMatch(/^import: 10,000 read, 0 new, 0 duplicate, 0 rejected, 10,000 ignored, [\d,]+\/s, RSS \d+ MiB$/);
  expect(progress[1]).toMatch(/^import: 20,000 read/);
  expect(r.stdout).toContain('ignored:    20,500 (types trialbridge does not store: Encounter 20,500)');
}, 60_000);

describe('exit codes', () => {
  test.each([
    ['no arguments', [], 'an input FILE is required'],
    ['no --site', ['x.ndjson'], '--site is required'],
    ['a bad --batch', ['x.ndjson', '--site', 'site-a', '--batch', '0'], '--batch must be an integer'],
    ['an unknown option', ['x.ndjson', '--site', 'site-a', '--fast'], 'unknown option --fast'],
    ['a site not in TRIALBRIDGE_SITES', ['x.ndjson', '--site', 'site-z'], 'unknown site "site-z"'],
  ])('2 on usage errors: %s', async (_label, args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  }, 30_000);

  test('1 on a missing file, nothing stored', async () => {
    const r = await run([path.join(dir, 'missing.ndjson'), '--site', 'site-a']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot read the input file (ENOENT); nothing stored');
  }, 30_000);

  test('1 on a broken single JSON document, nothing stored', async () => {
    const file = path.join(dir, 'broken.json');
    fs.writeFileSync(file, '{\n  "resourceType": "Bundle",\n  "entry": [\n    {"resource": {"name": "Zelda"}}\n');
    const r = await run([file, '--site', 'site-a']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('neither NDJSON nor one JSON document');
    expect(r.stderr).not.toContain('Zelda');
  }, 30_000);

  test('1 when Redis is unreachable, nothing stored', async () => {
    const r = await run([write('redis.ndjson', [obs('o-redis-1', 'p', '14631-6', 1, 'umol/L', 1)]), '--site', 'site-a'], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Redis not reachable .*; nothing stored/);
    const n = await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM inbound WHERE resource_id = 'o-redis-1'");
    expect(Number(n.rows[0].n)).toBe(0);
  }, 30_000);

  test('1 when the database is unreachable', async () => {
    const r = await run([write('db.ndjson', [obs('o-db-1', 'p', '14631-6', 1, 'umol/L', 1)]), '--site', 'site-a'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/trialbridge' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/database unavailable .*; nothing stored/);
  }, 30_000);
});
