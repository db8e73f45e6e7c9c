/**
 * `trialbridge evaluate --trial KEY [--as-of DATE] [--site ID] [--time-zone TZ] FILE`
 *
 * Offline evaluation: reads a FHIR Bundle (any type, nested collections
 * flattened, urn:uuid references resolved) or NDJSON, and prints the subject
 * report of every subject of that trial in it, as a JSON array. No Redis, no
 * database: the same mapping rules and protocol engine as the live path, read
 * from TRIALBRIDGE_MAPPINGS_DIR / TRIALBRIDGE_TRIALS_DIR like the server. With
 * `--site` naming a TRIALBRIDGE_SITES entry, its `studyAliases` and time zone apply.
 */
import fs from 'node:fs';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { ConfigError, loadConfig, type Config } from '../config';
import { unknownAliasTrials } from '../config/sites';
import { applySiteCodeMaps } from '../mapping';
import { loadTrialPackages } from '../protocol/package';
import { LoadError } from '../util/load-problems';
import { checkEntry, planBundle } from '../ingest';
import { buildSubjectReport } from '../protocol/report/build';
import { subjectsFromResources, type Located } from '../protocol/report/from-resources';

interface Out {
  log(s: string): void;
  error(s: string): void;
}

const USAGE = 'usage: trialbridge evaluate --trial KEY [--as-of YYYY-MM-DD] [--site ID] [--time-zone IANA] FILE(.json Bundle | .ndjson)';

function parseArgs(argv: string[]): { trial?: string; asOf?: string; site: string; timeZone?: string; file?: string } | string {
  const o = { site: 'offline' } as { trial?: string; asOf?: string; site: string; timeZone?: string; file?: string };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? '';
    if (a === '--trial') o.trial = next();
    else if (a === '--as-of') o.asOf = next();
    else if (a === '--site') o.site = next();
    else if (a === '--time-zone') o.timeZone = next();
    else if (a.startsWith('--')) return `unknown option ${a}`;
    else if (!o.file) o.file = a;
    else return `unexpected argument ${a}`;
  }
  if (!o.trial) return '--trial is required';
  if (!o.file) return 'an input FILE is required';
  if (o.asOf && !/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(o.asOf)) return `--as-of must be a date (YYYY-MM-DD), got "${o.asOf}"`;
  return o;
}

/** Reads the resources of a Bundle or NDJSON file; throws a message naming the file and the line or field. */
export function readResources(file: string): { items: Located[]; skipped: string[] } {
  const text = fs.readFileSync(file, 'utf8');
  const skipped: string[] = [];
  let docs: unknown[];
  try {
    docs = [JSON.parse(text)];
  } catch (whole) {
    // Not one JSON document: NDJSON, one resource per line (FHIR Bulk Data format).
    const lines = text.split('\n');
    if (lines.filter((l) => l.trim()).length < 2) throw new Error(`${file}: not valid JSON (${(whole as Error).message})`);
    docs = lines.map((l, i) => [l, i] as const).filter(([l]) => l.trim()).map(([l, i]) => {
      try {
        return JSON.parse(l);
      } catch (e) {
        throw new Error(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
      }
    });
  }
  const items: Located[] = [];
  for (const d of docs) {
    const r = d as Resource;
    if (!r || typeof r !== 'object' || typeof r.resourceType !== 'string') throw new Error(`${file}: expected FHIR resources (an object with resourceType)`);
    if (r.resourceType === 'Bundle') {
      for (const p of planBundle(r as Bundle, { anyType: true }).plans) {
        if (p.kind === 'store') items.push({ resource: p.resource, context: p.context });
        else if (p.kind === 'invalid') skipped.push(p.issues.map((i) => `${i.expression?.join(',') ?? ''}: ${i.details?.text ?? i.diagnostics ?? i.code}`).join('; '));
      }
    } else {
      // The front door's own check of one entry (ingest checkEntry), without storing.
      const c = checkEntry('', { resource: r, path: r.resourceType });
      if (c.kind === 'refused') skipped.push(`${r.resourceType}/${r.id ?? '?'}: ${c.problem.issues.map((i) => i.details?.text ?? i.diagnostics).join('; ')}`);
      else if (c.kind === 'store') items.push({ resource: c.item.n.body, context: null });
    }
  }
  return { items, skipped };
}

/** Runs the command; `env` is the environment the configuration is read from (README "Configuration"). */
export async function evaluateCommand(argv: string[], out: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    out.error(`evaluate: ${args}\n${USAGE}`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig(env, { redis: false });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    out.error(`evaluate: ${e.message}`);
    return 2;
  }
  // A trial is a package (design.md): loaded and cross-checked with its CRF file, as boot does.
  let packages: ReturnType<typeof loadTrialPackages>;
  try {
    packages = loadTrialPackages({ trialsDir: config.trialsDir, mappingsDir: config.mappingsDir });
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    out.error(`evaluate: ${e.message}`);
    return 2;
  }
  const { trials } = packages;
  const aliasProblems = unknownAliasTrials(config.sites, trials.keys);
  if (aliasProblems.length) {
    out.error(`evaluate: ${new ConfigError(aliasProblems).message}`);
    return 2;
  }
  const site = config.sites.find((s) => s.id === args.site);
  const trial = trials.get(args.trial!);
  if (!trial) {
    out.error(`evaluate: unknown trial "${args.trial}"; known: ${trials.keys.join(', ')}`);
    return 2;
  }
  let read: ReturnType<typeof readResources>;
  try {
    read = readResources(args.file!);
  } catch (e) {
    out.error(`evaluate: cannot read input: ${(e as Error).message}`);
    return 1;
  }
  for (const s of read.skipped) out.error(`evaluate: skipped invalid entry: ${s}`);
  const mappings = applySiteCodeMaps(packages.mappings, site ? [site] : []);
  const asOf = args.asOf ?? new Date().toISOString().slice(0, 10);
  const timeZone = args.timeZone ?? site?.timeZone ?? 'UTC';
  const subjects = subjectsFromResources(trial, mappings, { id: args.site, timeZone }, read.items, asOf, { studyAliases: site?.studyAliases });
  if (!subjects.length) out.error(`evaluate: no ResearchSubject of ${trial.key} in ${args.file}`);
  out.log(JSON.stringify(subjects.map((s) => buildSubjectReport(s).report), null, 2));
  return 0;
}
