/**
 * `trialbridge preview --site ID [--trial KEY]... [--top N] [--json] FILE`
 *
 * A dry run for a new site, with no servers (no Redis, no database): reads a FHIR Bundle
 * or NDJSON sample of the site's data and prints what the mapping rules would make of it
 * per trial and CRF item (counts, source codes and units, conversion factors), the review
 * reasons, and the codes no trial maps by frequency, marked where their display text or
 * unit suggests a known analyte (candidates for the site's `codeMap`). The site's code map
 * from TRIALBRIDGE_SITES is applied when the site is configured. The output carries codes,
 * units and counts only: no ids, values, dates or patients.
 */
import { ConfigError, loadConfig, type Config } from '../config';
import { applySiteCodeMaps, buildPreview, loadMappings, type MappingSet, type PreviewReport } from '../mapping';
import { readResources } from './evaluate';

interface Out {
  log(s: string): void;
  error(s: string): void;
}

/** Unmapped codes listed by the human-readable output unless --top says otherwise. */
export const DEFAULT_TOP = 40;

const USAGE = 'usage: trialbridge preview --site ID [--trial KEY]... [--top N] [--json] FILE(.json Bundle | .ndjson)';

interface Args {
  readonly site: string;
  readonly trials: readonly string[];
  readonly top: number;
  readonly json: boolean;
  readonly file: string;
}

function parseArgs(argv: readonly string[]): Args | string {
  let site: string | undefined;
  let file: string | undefined;
  let top = DEFAULT_TOP;
  let json = false;
  const trials: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? '';
    if (a === '--site') site = next();
    else if (a === '--trial') trials.push(next());
    else if (a === '--json') json = true;
    else if (a === '--top') {
      top = Number(next());
      if (!Number.isInteger(top) || top < 0) return '--top must be a non-negative integer';
    } else if (a.startsWith('--')) return `unknown option ${a}`;
    else if (!file) file = a;
    else return `unexpected argument ${a}`;
  }
  if (!site) return '--site is required (the site the sample comes from; its code map applies when it is configured)';
  if (!file) return 'an input FILE is required';
  return { site, trials, top, json, file };
}

/** Runs the command; returns the exit code (0 ok, 1 unreadable input, 2 bad arguments or configuration). */
export async function previewCommand(argv: readonly string[], out: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    out.error(`preview: ${args}\n${USAGE}`);
    return 2;
  }
  let config: Config;
  let mappings: MappingSet;
  try {
    config = loadConfig(env, { redis: false });
    mappings = applySiteCodeMaps(loadMappings(config.mappingsDir), config.sites);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    out.error(`preview: ${e.message}`);
    return 2;
  }
  const unknown = args.trials.filter((t) => !mappings.hasTrial(t));
  if (unknown.length) {
    out.error(`preview: unknown trial ${unknown.map((t) => `"${t}"`).join(', ')}; known: ${mappings.trials.join(', ')}`);
    return 2;
  }
  let read: ReturnType<typeof readResources>;
  try {
    read = readResources(args.file);
  } catch (e) {
    out.error(`preview: cannot read input: ${(e as Error).message}`);
    return 1;
  }
  const items = read.items.map((x) => ({ resource: x.resource, fallbackEffective: x.context?.fallbackEffective as string | undefined }));
  const report = buildPreview(mappings, args.site, items, args.trials.length ? args.trials : mappings.trials);
  const site = config.sites.find((s) => s.id === args.site);
  const codeMap = site ? `${site.codeMap.length} site code map entr${site.codeMap.length === 1 ? 'y' : 'ies'}` : 'site not in TRIALBRIDGE_SITES: no site code map';
  if (args.json) out.log(JSON.stringify({ ...report, codeMapEntries: site?.codeMap.length ?? 0, skipped: read.skipped.length }, null, 2));
  else out.log(humanReport(report, { codeMap, skipped: read.skipped.length, top: args.top }));
  return 0;
}

const n = (x: number) => x.toLocaleString('en-US');

/** The human-readable form of a preview report. */
export function humanReport(r: PreviewReport, o: { codeMap: string; skipped: number; top: number }): string {
  const lines: string[] = [];
  const types = Object.entries(r.resources).sort((a, b) => b[1] - a[1]).map(([t, c]) => `${t} ${n(c)}`).join(', ');
  const total = Object.values(r.resources).reduce((a, b) => a + b, 0);
  lines.push(`preview of site ${r.site} (${o.codeMap})`);
  lines.push(`sample: ${n(total)} resources${types ? ` (${types})` : ''}${o.skipped ? `; ${n(o.skipped)} invalid entries skipped` : ''}`);
  const ob = r.observations;
  lines.push(`Observations: ${n(ob.total)}: ${n(ob.toCrf)} give CRF values, ${n(ob.toReview)} only review items, ${n(ob.protocol)} clinician answers/findings, ${n(ob.unmapped)} unmapped codes, ${n(ob.otherTrialsOnly)} for other trials`);
  for (const t of r.trials) {
    lines.push('', `${t.trial}`);
    if (!t.items.length && !t.reviews.length) lines.push('  (nothing in the sample for this trial)');
    for (const i of t.items) {
      const from = i.sources.map((s) => `${s.localCode ? `${s.localCode} (site code map → LOINC ${s.code})` : `LOINC ${s.code}`} in ${s.unit ?? '(coded)'} ×${n(s.count)}${s.factor !== null && s.factor !== 1 ? ` (1 ${s.unit} = ${s.factor} ${i.unit})` : ''}`);
      lines.push(`  ${i.form}.${i.item}${i.unit ? ` [${i.unit}]` : ''}: ${n(i.values)} value${i.values === 1 ? '' : 's'}${from.length ? ` from ${from.join('; ')}` : ''}`);
      for (const v of i.reviews) lines.push(`      review ${v.reason} ×${n(v.count)}: ${v.example}`);
    }
    for (const v of t.reviews) lines.push(`  review ${v.reason} ×${n(v.count)} (no CRF item): ${v.example}`);
  }
  lines.push('', `Unmapped codes (${n(r.unmapped.length)}; no review item; most frequent first${r.unmapped.length > o.top ? `, top ${o.top}` : ''}). "→" marks a known analyte the display or unit suggests: add it to the site's codeMap.`);
  for (const u of r.unmapped.slice(0, o.top)) {
    const code = u.system || u.code ? `${u.system}|${u.code}` : '(no coding)';
    const hint = u.suggestion ? `  → ${u.suggestion.analyte} (${u.suggestion.name}, by ${u.suggestion.by})` : '';
    lines.push(`  ${n(u.count).padStart(7)}  ${code}  ${u.display ?? ''}${u.units.length ? `  [${u.units.slice(0, 3).join(', ')}]` : ''}${hint}`);
  }
  return lines.join('\n');
}
