/**
 * `trialbridge export --trial KEY --format odm|odm-snapshot|redcap|lb|ex [--since-last] [--out FILE]`
 *
 * One export to the trial database from the command line (README "Send data to
 * the trial database"), recorded and audited exactly like one from the API
 * (store/exports.ts runExport): every site of the trial, as the system actor
 * `trialbridge-cli` (role admin) or as the configured user named by
 * TRIALBRIDGE_EXPORT_USER. The file goes to --out or stdout; progress and the
 * summary go to stderr. Exit codes: 0 done, 1 the database is unavailable or the
 * export failed, 2 usage (bad arguments, unknown trial or format).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, REPO_ROOT, type Config } from '../config';
import { AppError } from '../errors';
import { applySiteCodeMaps } from '../mapping';
import { loadTrialPackages } from '../protocol/package';
import { openStore, stderrLogger, type Out } from '../runtime';
import type { Actor } from '../store/audit';
import { EXPORT_FORMATS, isExportFormat, runExport, type ExportFormat } from '../store/exports';
import { LoadError } from '../util/load-problems';

export const EXPORT_USAGE = `usage: trialbridge export --trial KEY --format ${EXPORT_FORMATS.join('|')} [--since-last] [--out FILE]

  --trial KEY     trial key of a trial file (e.g. NCT05985863)
  --format F      odm           CDISC ODM 1.3.2 Transactional: Insert/Update/Remove since the previous odm export
                  odm-snapshot  CDISC ODM 1.3.2 Snapshot: every value as it is now
                  redcap        zip of the REDCap project files (data dictionary, arms, events, mapping, records)
                  lb | ex       CDISC SDTM-like LB (labs) or EX (study-drug exposure) dataset as CSV
  --since-last    what odm always does (changes since the previous odm export); refused for other formats
  --out FILE      write the file there (default: stdout)

Every site of the trial is exported, as user trialbridge-cli (role admin) unless
TRIALBRIDGE_EXPORT_USER names a configured user who may export (admin, data-manager, monitor).
The export is recorded and audited (export.create) like one from the API. Progress goes to stderr.`;

export interface ExportArgs {
  readonly trial: string;
  readonly format: ExportFormat;
  readonly out: string | null;
}

/** The CLI's own actor when no user is named (the audit trail shows who ran it from where). */
export const CLI_ACTOR: Actor = Object.freeze({ id: 'trialbridge-cli', role: 'admin', name: 'trialbridge-cli' });

/** Roles that may export (http/scope.ts ALLOWED.export). */
const EXPORT_ROLES = ['admin', 'data-manager', 'monitor'];

export function parseExportArgs(argv: readonly string[]): ExportArgs | { help: true } | string {
  let trial: string | undefined;
  let format: string | undefined;
  let out: string | null = null;
  let sinceLast = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string | null => {
      const v = argv[++i];
      return v === undefined || v.startsWith('--') ? null : v;
    };
    if (a === '--help' || a === '-h') return { help: true };
    if (a === '--trial') {
      const v = value();
      if (!v) return '--trial needs a trial key';
      trial = v;
    } else if (a === '--format') {
      const v = value();
      if (!v) return `--format needs one of ${EXPORT_FORMATS.join(', ')}`;
      format = v;
    } else if (a === '--out') {
      const v = value();
      if (!v) return '--out needs a file name';
      out = v;
    } else if (a === '--since-last') sinceLast = true;
    else return `unexpected argument ${a}`;
  }
  if (!trial) return '--trial is required';
  if (!format) return `--format is required (${EXPORT_FORMATS.join(', ')})`;
  if (!isExportFormat(format)) return `unknown format "${format}"; known: ${EXPORT_FORMATS.join(', ')}`;
  if (sinceLast && format !== 'odm') return `--since-last applies to --format odm only (ODM Transactional); ${format} is always a full snapshot`;
  return { trial, format, out };
}

function actorFrom(config: Config, env: NodeJS.ProcessEnv, trial: string): Actor | string {
  const id = env.TRIALBRIDGE_EXPORT_USER?.trim();
  if (!id) return CLI_ACTOR;
  const user = config.users.find((u) => u.id === id);
  if (!user) return `TRIALBRIDGE_EXPORT_USER "${id}" is not a configured user (TRIALBRIDGE_USERS)`;
  // The CLI exports every site of the trial, so the user needs an export role for all of them.
  const grant = user.grants.find((g) => EXPORT_ROLES.includes(g.role) && (g.trial === '*' || g.trial === trial) && g.site === '*');
  if (!grant) return `TRIALBRIDGE_EXPORT_USER "${id}" may not export every site of ${trial} (needs admin, data-manager or monitor for all sites)`;
  return { id: user.id, role: grant.role, name: user.name };
}

function packageVersion(): string {
  try {
    return String(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version ?? '0');
  } catch {
    return '0';
  }
}

/** Writes the file to stdout, waiting for it to drain (a zip may be large). */
function writeStdout(body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(body, (e) => (e ? reject(e) : resolve())));
}

/** Runs the command; `env` is the environment the configuration is read from (README "Configuration"). */
export async function exportCommand(argv: string[], out: Out, env: NodeJS.ProcessEnv = process.env, write: (body: Buffer) => Promise<void> = writeStdout): Promise<number> {
  const args = parseExportArgs(argv);
  if (typeof args === 'string') {
    out.error(`export: ${args}\n${EXPORT_USAGE}`);
    return 2;
  }
  if ('help' in args) {
    out.log(EXPORT_USAGE);
    return 0;
  }
  let config: Config;
  let packages: ReturnType<typeof loadTrialPackages>;
  try {
    config = loadConfig(env, { redis: false });
    packages = loadTrialPackages({ trialsDir: config.trialsDir, mappingsDir: config.mappingsDir });
  } catch (e) {
    if (!(e instanceof ConfigError) && !(e instanceof LoadError)) throw e;
    out.error(`export: ${e.message}`);
    return 2;
  }
  if (!packages.trials.get(args.trial)) {
    out.error(`export: unknown trial "${args.trial}"; known: ${packages.trials.keys.join(', ')}`);
    return 2;
  }
  const actor = actorFrom(config, env, args.trial);
  if (typeof actor === 'string') {
    out.error(`export: ${actor}`);
    return 2;
  }
  let db;
  try {
    db = await openStore(config, stderrLogger(config.logLevel === 'info' ? 'warn' : config.logLevel));
  } catch (e) {
    out.error(`export: ${(e as Error).message}; nothing was exported`);
    return 1;
  }
  try {
    let shown = -1;
    const file = await runExport(db, {
      trials: packages.trials,
      mappings: applySiteCodeMaps(packages.mappings, config.sites),
      sites: config.sites,
      userName: (id) => config.users.find((u) => u.id === id)?.name,
      version: packageVersion(),
    }, {
      trial: args.trial, format: args.format, actor, scope: () => 'TRUE', sites: ['*'],
      onProgress: (done, total) => {
        if (done === shown || total < 20) return;
        shown = done;
        out.error(`export: ${done}/${total} subjects`);
      },
    });
    const { record } = file;
    // A file is written decompressing as it goes, so a large export is never held whole in memory.
    if (args.out) await pipeline(Readable.from([file.gzip]), createGunzip(), fs.createWriteStream(args.out));
    else await write(file.body);
    const c = record.counts;
    const changes = record.kind === 'transactional' ? ` (inserted ${c.inserted}, updated ${c.updated}, removed ${c.removed})` : '';
    out.error(`export: ${record.id} ${record.fileName}: ${c.subjects} subjects, ${c.values} values${changes}, ${c.administrations} administrations, ${record.bytes} bytes, sha256 ${record.sha256}${args.out ? ` -> ${args.out}` : ''}`);
    return 0;
  } catch (e) {
    if (e instanceof AppError) {
      out.error(`export: ${e.diagnostics ?? e.message}`);
      return e.status < 500 ? 2 : 1;
    }
    out.error(`export: ${(e as Error).message}`);
    return 1;
  } finally {
    await db.close();
  }
}
