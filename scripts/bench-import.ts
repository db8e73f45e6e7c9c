/**
 * `npm run bench:import`: bulk backfill throughput and memory on the real
 * stack (not a test; figures go in the closing note).
 *
 * Generates an NDJSON file of BENCH_IMPORT_N Observations (default 200,000;
 * a liver panel of 8 LOINC codes, daily, for BENCH_IMPORT_PATIENTS enrolled
 * patients, default 20, whose Patient and ResearchSubject lines come first)
 * in a temp dir, starts Redis + PostgreSQL with scripts/services.sh unless
 * REDIS_URL/DATABASE_URL are set, then:
 *   1. runs `trialbridge import FILE --site bench --json` as a child process
 *      (no worker running): resources/s, and peak RSS of the import process
 *      (the kernel's VmHWM, read from /proc while it runs, and the command's
 *      own sampling);
 *   2. then starts `trialbridge worker` as another child process and times how
 *      long it takes until no inbound row is left in `received` (and the map
 *      queue is empty), and until the subject re-evaluations have drained.
 * Prints one figures block at the end.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { sha256Hex } from '../src/http';
import { openDb, type Db } from '../src/store/db';

const N = Number(process.env.BENCH_IMPORT_N ?? 200_000);
const PATIENTS = Number(process.env.BENCH_IMPORT_PATIENTS ?? 20);
const BATCH = process.env.BENCH_IMPORT_BATCH ?? '500';
const ROOT = path.resolve(__dirname, '..');
const MAP_TIMEOUT_MS = 30 * 60_000;

/** The NCT05985863 liver panel: LOINC, a plausible value, UCUM unit. */
const PANEL: readonly [string, number, string][] = [
  ['1975-2', 4.2, 'mg/dL'], ['6301-6', 1.6, '{INR}'], ['1751-7', 30, 'g/L'], ['3094-0', 20, 'mg/dL'],
  ['2160-0', 1.1, 'mg/dL'], ['777-3', 90, '10*3/uL'], ['2951-2', 134, 'mmol/L'], ['5894-1', 45, '%'],
];

function services(): { env: Record<string, string>; stop: () => void } {
  if (process.env.REDIS_URL && process.env.DATABASE_URL) return { env: { REDIS_URL: process.env.REDIS_URL, DATABASE_URL: process.env.DATABASE_URL }, stop: () => undefined };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trialbridge-bench-import-'));
  execFileSync('bash', [path.join(ROOT, 'scripts/services.sh'), 'start', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(path.join(dir, 'env'), 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return {
    env,
    stop: () => {
      execFileSync('bash', [path.join(ROOT, 'scripts/services.sh'), 'stop', dir], { stdio: 'ignore' });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes the NDJSON file in chunks (the generator itself stays small). Returns its size in bytes. */
function generate(file: string): number {
  const fd = fs.openSync(file, 'w');
  try {
    const head: string[] = [];
    for (let p = 0; p < PATIENTS; p++) {
      head.push(JSON.stringify({ resourceType: 'Patient', id: `bi-p${p}`, gender: p % 2 ? 'male' : 'female' }));
      head.push(JSON.stringify({
        resourceType: 'ResearchSubject', id: `bi-rs${p}`, status: 'on-study', identifier: [{ value: `BI-${p}` }],
        period: { start: '2022-01-01' }, study: { identifier: { value: 'NCT05985863' } }, individual: { reference: `Patient/bi-p${p}` },
      }));
    }
    fs.writeSync(fd, `${head.join('\n')}\n`);
    const t0 = Date.UTC(2022, 0, 1, 1);
    let chunk: string[] = [];
    for (let i = 0; i < N; i++) {
      const p = i % PATIENTS;
      const k = Math.floor(i / PATIENTS);
      const [code, value, unit] = PANEL[k % PANEL.length];
      const day = Math.floor(k / PANEL.length);
      chunk.push(JSON.stringify({
        resourceType: 'Observation', id: `bi-o${i}`, status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code }] },
        subject: { reference: `Patient/bi-p${p}` },
        effectiveDateTime: new Date(t0 + day * 86_400_000 + (k % PANEL.length) * 60_000).toISOString(),
        valueQuantity: { value: Math.round((value * (0.8 + ((i * 7919) % 400) / 1000)) * 100) / 100, unit, system: 'http://unitsofmeasure.org', code: unit },
      }));
      if (chunk.length === 10_000) {
        fs.writeSync(fd, `${chunk.join('\n')}\n`);
        chunk = [];
      }
    }
    if (chunk.length) fs.writeSync(fd, `${chunk.join('\n')}\n`);
  } finally {
    fs.closeSync(fd);
  }
  return fs.statSync(file).size;
}

/** Peak resident set of a running process as the kernel counts it (VmHWM), polled until it exits. */
function watchPeakRss(child: ChildProcess): () => number {
  let peak = 0;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      /* exited */
    }
  };
  const timer = setInterval(read, 50);
  child.on('exit', () => clearInterval(timer));
  return () => {
    read();
    return peak;
  };
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv, stdout: 'pipe' | 'ignore'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], { env, stdio: ['ignore', stdout, 'pipe'] });
}

async function countReceived(db: Db): Promise<number> {
  const r = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM inbound WHERE state = 'received'");
  return Number(r.rows[0].n);
}

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

async function main() {
  const svc = services();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trialbridge-bench-import-data-'));
  const prefix = `bench-import-${process.pid}`;
  const schema = `bench_import_${process.pid}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env, ...svc.env, LOG_LEVEL: 'warn', TRIALBRIDGE_QUEUE_PREFIX: prefix, TRIALBRIDGE_DB_SCHEMA: schema,
    TRIALBRIDGE_WORKER_CONCURRENCY: process.env.TRIALBRIDGE_WORKER_CONCURRENCY ?? '8',
    TRIALBRIDGE_SITES: JSON.stringify([{ id: 'bench', tokenSha256: sha256Hex('bench-import-unused-token') }]),
  };
  const db = await openDb({ databaseUrl: svc.env.DATABASE_URL, schema });
  const redis = new IORedis(svc.env.REDIS_URL, { maxRetriesPerRequest: null });
  const mapQ = new Queue('map-resource', { connection: redis, prefix });
  const evalQ = new Queue('evaluate-subject', { connection: redis, prefix });
  let worker: ChildProcess | null = null;
  try {
    const file = path.join(tmp, 'observations.ndjson');
    let t = performance.now();
    const bytes = generate(file);
    const lines = N + 2 * PATIENTS;
    process.stderr.write(`bench:import: generated ${fmt(lines)} lines (${mib(bytes)}) in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);

    // 1. The import alone.
    t = performance.now();
    const imp = spawnCli(['import', file, '--site', 'bench', '--batch', BATCH, '--json'], env, 'pipe');
    const impPeak = watchPeakRss(imp);
    let out = '';
    imp.stdout!.on('data', (d) => (out += d));
    imp.stderr!.on('data', (d) => process.stderr.write(d));
    const code = await new Promise<number | null>((r) => imp.on('exit', r));
    const wall = (performance.now() - t) / 1000;
    if (code !== 0) throw new Error(`import exited ${code}: ${out}`);
    const summary = JSON.parse(out);
    const kernelPeak = impPeak();

    // 2. The worker maps what was imported.
    const received0 = await countReceived(db);
    t = performance.now();
    worker = spawnCli(['worker'], env, 'ignore');
    worker.stderr!.on('data', (d) => process.stderr.write(d));
    const workerPeak = watchPeakRss(worker);
    let lastNote = t;
    let mappedAt = 0;
    for (;;) {
      const left = await countReceived(db);
      if (left === 0) {
        const c = await mapQ.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        if (Object.values(c).every((x) => x === 0)) {
          mappedAt = performance.now();
          break;
        }
      }
      if (performance.now() - lastNote > 10_000) {
        lastNote = performance.now();
        process.stderr.write(`bench:import: worker: ${fmt(received0 - left)} of ${fmt(received0)} rows processed after ${((lastNote - t) / 1000).toFixed(0)} s\n`);
      }
      if (performance.now() - t > MAP_TIMEOUT_MS) throw new Error(`mapping not finished after ${MAP_TIMEOUT_MS / 60_000} min (${left} rows in received)`);
      if (worker.exitCode !== null) throw new Error(`worker exited ${worker.exitCode}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const mapSecs = (mappedAt - t) / 1000;
    for (;;) {
      const c = await evalQ.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(c).every((x) => x === 0)) break;
      if (performance.now() - t > MAP_TIMEOUT_MS) throw new Error('subject evaluations not drained');
      await new Promise((r) => setTimeout(r, 200));
    }
    const evalSecs = (performance.now() - t) / 1000;
    const states = await db.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM inbound GROUP BY state ORDER BY state');
    const crf = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM crf_values WHERE status = 'auto'");
    const obsRows = N;

    const block = [
      '',
      `trialbridge bench:import: ${os.cpus().length} cores, node ${process.version}, PostgreSQL + Redis on loopback`,
      `  input:    ${fmt(lines)} NDJSON lines, ${mib(bytes)}: ${fmt(N)} Observations (8-code liver panel) for ${PATIENTS} enrolled patients (+ ${PATIENTS} Patient, ${PATIENTS} ResearchSubject lines)`,
      `  import:   --batch ${BATCH}, no worker running: ${fmt(summary.accepted)} accepted, ${fmt(summary.duplicate)} duplicate, ${fmt(summary.rejected)} rejected, ${fmt(summary.ignored)} ignored`,
      `            ${fmt(summary.resourcesPerSecond)} resources/s over the stream (${(summary.elapsedMs / 1000).toFixed(1)} s); process wall time ${wall.toFixed(1)} s including start-up, FHIR definitions and migrations`,
      `            peak RSS of the import process: ${mib(kernelPeak)} (kernel VmHWM), ${mib(summary.peakRssBytes)} (its own sampling)`,
      `  mapping:  one \`trialbridge worker\` process (concurrency ${env.TRIALBRIDGE_WORKER_CONCURRENCY}) started after the import:`,
      `            all ${fmt(received0)} rows out of received in ${mapSecs.toFixed(1)} s from its spawn (${fmt(received0 / mapSecs)} rows/s, start-up included); subject re-evaluations drained at ${evalSecs.toFixed(1)} s`,
      `            inbound states: ${states.rows.map((r) => `${r.state} ${fmt(Number(r.n))}`).join(', ')}; CRF values: ${fmt(Number(crf.rows[0].n))} for ${fmt(obsRows)} Observations`,
      `            peak RSS of the worker process: ${mib(workerPeak())}`,
    ];
    console.log(block.join('\n'));
  } finally {
    if (worker && worker.exitCode === null) {
      const w = worker;
      w.kill('SIGTERM');
      await new Promise((r) => (w.exitCode !== null ? r(null) : w.on('exit', r)));
    }
    await mapQ.obliterate({ force: true }).catch(() => undefined);
    await evalQ.obliterate({ force: true }).catch(() => undefined);
    await Promise.all([mapQ.close(), evalQ.close()]).catch(() => undefined);
    await redis.quit().catch(() => undefined);
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.close();
    fs.rmSync(tmp, { recursive: true, force: true });
    svc.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
