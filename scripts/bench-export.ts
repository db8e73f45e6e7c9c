/**
 * Export bench (README "Benchmark"): a trial with BENCH_EXPORT_SUBJECTS subjects
 * (default 100) x BENCH_EXPORT_WEEKS weekly draws (default 104: two years) of every
 * numeric LB item of NCT05985863 (17), all accepted by a data manager, plus two
 * study-drug infusions per subject, written straight into a fresh schema with SQL
 * (inbound rows, enrollments, crf_values, visit_assignments, subject_reports).
 * Then times loadExportDataset and one export of each format through runExport
 * (recorded, gzip-stored and audited as in production) and prints seconds, values,
 * bytes, MiB/s and the peak RSS.
 *
 *   node --import tsx scripts/bench-export.ts
 *
 * With DATABASE_URL: a schema of its own in that PostgreSQL, dropped afterwards;
 * without: the embedded PGlite in a temporary directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildStudy } from '../src/export';
import { loadTrialPackages } from '../src/protocol/package';
import { SYSTEM_ACTOR } from '../src/store/audit';
import { openDb, type Db } from '../src/store/db';
import { EXPORT_FORMATS, loadExportDataset, runExport, type ExportDeps } from '../src/store/exports';
import { migrate } from '../src/store/migrate';

const SUBJECTS = Number(process.env.BENCH_EXPORT_SUBJECTS ?? 100);
const WEEKS = Number(process.env.BENCH_EXPORT_WEEKS ?? 104);
const TRIAL = 'NCT05985863';
const SITE = 'bench-site';
const TIME_ZONE = 'Asia/Shanghai';
/** Day 0 at the site; draws are at 07:30 local time each week from there. */
const DAY0 = '2024-01-01';
const ROOT = path.resolve(__dirname, '..');

const mib = (bytes: number) => bytes / 1024 / 1024;
const peakRss = () => `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`;

async function seed(db: Db, deps: ExportDeps): Promise<number> {
  const trial = deps.trials.get(TRIAL)!;
  const study = buildStudy(trial, deps.mappings);
  const items = study.forms.find((f) => f.form === 'LB')!.items.filter((i) => i.dataType !== 'text');
  const drug = trial.studyDrug.codes[0];
  // Each week's visit code when the schedule has one on that week's target day; other weeks are unscheduled.
  const weekVisit = Array.from({ length: WEEKS }, (_, w) => study.visits.find((v) => v.targetDay === 7 * w)?.code ?? '');
  await db.query(
    `INSERT INTO inbound (site, resource_type, resource_id, version, content_hash, body, patient_id, state)
     SELECT $1, 'ResearchSubject', 'rs-' || s, '1', md5('rs' || s), jsonb_build_object('resourceType', 'ResearchSubject', 'id', 'rs-' || s, 'status', 'on-study'), 'p-' || s, 'mapped'
     FROM generate_series(0, $2 - 1) s`,
    [SITE, SUBJECTS],
  );
  await db.query(
    `INSERT INTO enrollments (site, research_subject_id, trial, subject, patient_id, arm, status, period_start, inbound_id)
     SELECT $1, i.resource_id, $2, 'B-' || lpad(substr(i.resource_id, 4), 4, '0'), i.patient_id, 'msc', 'on-study', $3, i.id FROM inbound i WHERE i.site = $1 AND i.resource_type = 'ResearchSubject'`,
    [SITE, TRIAL, DAY0],
  );
  // One Observation per analyte per weekly draw (a lab system sends one result each), stored as mapped;
  // 10 subjects a statement, so none runs into the statement timeout.
  for (let s0 = 0; s0 < SUBJECTS; s0 += 10) {
    const s1 = Math.min(s0 + 10, SUBJECTS) - 1;
    await db.query(
      `INSERT INTO inbound (site, resource_type, resource_id, version, content_hash, body, patient_id, state)
       SELECT $1, 'Observation', 'o-' || s || '-' || w || '-' || it.k, '1', md5(s || '-' || w || '-' || it.k),
         jsonb_build_object('resourceType', 'Observation', 'id', 'o-' || s || '-' || w || '-' || it.k, 'status', 'final',
           'code', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object('system', 'http://loinc.org', 'code', it.loinc))),
           'subject', jsonb_build_object('reference', 'Patient/p-' || s),
           'effectiveDateTime', to_char(($3::date + 7 * w) + time '07:30', 'YYYY-MM-DD"T"HH24:MI:SS') || '+08:00',
           'valueQuantity', jsonb_build_object('value', 1 + ((s * 7 + w * 3 + it.k) % 50) / 10.0, 'system', 'http://unitsofmeasure.org', 'code', it.unit),
           'interpretation', jsonb_build_array(jsonb_build_object('coding', jsonb_build_array(jsonb_build_object('code', CASE WHEN (s + w + it.k) % 5 = 0 THEN 'H' ELSE 'N' END))))),
         'p-' || s, 'mapped'
       FROM generate_series($7::int, $2::int) s, generate_series(0, $4 - 1) w, unnest($5::text[], $6::text[]) WITH ORDINALITY AS it(loinc, unit, k)`,
      [SITE, s1, DAY0, WEEKS, items.map((i) => i.loinc[0].code), items.map((i) => i.unit), s0],
    );
    await db.query(
      `INSERT INTO crf_values (trial, subject, site, form, item, value, unit, original_value, original_unit, effective, source_type, source_id, source_version, inbound_id, rule_id, code,
                               status, reviewed_by, reviewed_at)
       SELECT $1, e.subject, $2, 'LB', it.item, to_jsonb(round((i.body #>> '{valueQuantity,value}')::numeric, it.decimals)), it.unit,
              i.body #> '{valueQuantity,value}', it.unit, (i.body ->> 'effectiveDateTime')::timestamptz, 'Observation', i.resource_id, '1', i.id, 'bench.' || it.item,
              it.loinc, 'accepted', 'bench-dm', (i.body ->> 'effectiveDateTime')::timestamptz + interval '1 day'
       FROM inbound i JOIN enrollments e ON e.site = i.site AND e.patient_id = i.patient_id
       JOIN unnest($3::text[], $4::text[], $5::text[], $6::int[]) AS it(item, loinc, unit, decimals) ON it.loinc = i.body #>> '{code,coding,0,code}'
       WHERE i.site = $2 AND i.resource_type = 'Observation' AND i.patient_id = ANY($7::text[])`,
      [TRIAL, SITE, items.map((i) => i.item), items.map((i) => i.loinc[0].code), items.map((i) => i.unit), items.map((i) => i.decimals),
        Array.from({ length: s1 - s0 + 1 }, (_, k) => `p-${s0 + k}`)],
    );
  }
  await db.query(
    `INSERT INTO visit_assignments (trial, subject, site, visit, item, crf_value_id, placement)
     SELECT c.trial, c.subject, c.site, v.code, c.item, c.id, c.status FROM crf_values c
     JOIN unnest($2::text[]) WITH ORDINALITY AS v(code, w) ON v.w - 1 = ((c.effective AT TIME ZONE $3)::date - $4::date) / 7
     WHERE c.trial = $1 AND v.code <> ''`,
    [TRIAL, weekVisit, TIME_ZONE, DAY0],
  );
  // Two infusions per subject (W0 and W4) and the report that places them.
  await db.query(
    `INSERT INTO inbound (site, resource_type, resource_id, version, content_hash, body, patient_id, state)
     SELECT $1, 'MedicationAdministration', 'ma-' || s || '-' || d, '1', md5('ma' || s || d),
       jsonb_build_object('resourceType', 'MedicationAdministration', 'id', 'ma-' || s || '-' || d, 'status', 'completed',
         'medicationCodeableConcept', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object('system', $3::text, 'code', $4::text))),
         'subject', jsonb_build_object('reference', 'Patient/p-' || s),
         'effectiveDateTime', to_char(($5::date + 28 * d) + time '09:00', 'YYYY-MM-DD"T"HH24:MI:SS') || '+08:00',
         'dosage', jsonb_build_object('dose', jsonb_build_object('value', 100, 'unit', 'mL', 'system', 'http://unitsofmeasure.org', 'code', 'mL'))),
       'p-' || s, 'mapped'
     FROM generate_series(0, $2 - 1) s, generate_series(0, 1) d`,
    [SITE, SUBJECTS, drug.system, drug.code, DAY0],
  );
  await db.query(
    `INSERT INTO subject_reports (trial, subject, site, report)
     SELECT $1, e.subject, e.site, jsonb_build_object('day0', $3::text, 'flags', '[]'::jsonb, 'doses', jsonb_build_array(
       jsonb_build_object('visit', 'W0', 'status', 'given', 'dose', 100, 'unit', 'mL', 'source', 'MedicationAdministration/ma-' || substr(e.research_subject_id, 4) || '-0'),
       jsonb_build_object('visit', 'W4', 'status', 'given', 'dose', 100, 'unit', 'mL', 'source', 'MedicationAdministration/ma-' || substr(e.research_subject_id, 4) || '-1')))
     FROM enrollments e WHERE e.site = $2`,
    [TRIAL, SITE, DAY0],
  );
  const n = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM crf_values WHERE trial = $1', [TRIAL]);
  return Number(n.rows[0].n);
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL || null;
  const schema = `bench_export_${process.pid}`;
  const dataDir = url ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'trialbridge-bench-export-'));
  const db = await openDb({ databaseUrl: url, schema, dataDir, poolSize: 2 });
  try {
    await migrate(db);
    const packages = loadTrialPackages({ trialsDir: path.join(ROOT, 'mappings/trials'), mappingsDir: path.join(ROOT, 'mappings') });
    const deps: ExportDeps = { trials: packages.trials, mappings: packages.mappings, sites: [{ id: SITE, timeZone: TIME_ZONE }], version: 'bench', userName: () => 'Bench Data Manager' };
    let t = performance.now();
    const rows = await seed(db, deps);
    if (process.env.BENCH_EXPORT_KEEP === '1') console.log(`schema ${schema} is kept`);
    console.log(`export bench: ${SUBJECTS} subjects x ${WEEKS} weekly draws, ${rows} accepted values (${url ? 'PostgreSQL' : 'PGlite'}), node ${process.version}, ${os.cpus().length} cores; seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const scope = () => 'TRUE';
    t = performance.now();
    const ds = await loadExportDataset(db, deps, { trial: TRIAL, scope });
    console.log(`loadExportDataset              ${((performance.now() - t) / 1000).toFixed(2).padStart(6)} s  ${String(ds.values.length).padStart(7)} values  ${ds.administrations.length} administrations  peak RSS ${peakRss()}`);
    // odm twice: the first sends every value (all Inserts), the second finds nothing changed.
    for (const format of [...EXPORT_FORMATS.filter((f) => f !== 'odm'), 'odm', 'odm'] as const) {
      t = performance.now();
      const { record } = await runExport(db, deps, { trial: TRIAL, format, actor: SYSTEM_ACTOR, scope, sites: ['*'] });
      const s = (performance.now() - t) / 1000;
      console.log(`${`export ${format}${format === 'odm' ? (record.counts.values ? ' (first)' : ' (again)') : ''}`.padEnd(30)} ${s.toFixed(2).padStart(6)} s  ${String(record.counts.values).padStart(7)} values  ${mib(record.bytes).toFixed(1).padStart(6)} MiB  ${(mib(record.bytes) / s).toFixed(1).padStart(5)} MiB/s  peak RSS ${peakRss()}`);
    }
  } finally {
    // BENCH_EXPORT_KEEP=1 keeps the schema for a look at the plans (EXPLAIN) afterwards.
    if (url && process.env.BENCH_EXPORT_KEEP !== '1') await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
