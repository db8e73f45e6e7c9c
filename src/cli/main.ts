/**
 * `trialbridge <command>`: operator commands reusing the same modules.
 *   serve | worker | start    run the HTTP receiver, the workers, or both
 *   migrate                   apply database migrations and exit
 *   validate-mappings [dir]   check every mapping file; non-zero exit on any problem
 *   import FILE --site ID     bulk backfill of NDJSON (or a Bundle) through the same store-then-queue path
 *   evaluate --trial KEY [--as-of DATE] FILE   offline subject reports from a Bundle or NDJSON
 *   preview --site ID [--json] FILE   dry run of the mapping rules over a sample of a site's data (no servers)
 *   subscribe --site ID       create/update our Subscriptions on the site's FHIR server
 *   subscriptions --site ID   list them with their status
 *   poll --site ID            one sync of the site now
 *   export-pull --site ID [--since DATE]   FHIR Bulk Data $export from the site, imported like `import`
 *   export --trial KEY --format odm|odm-snapshot|redcap|lb|ex [--since-last] [--out FILE]   a file for the trial database
 *   hash-token [token]        print the SHA-256 digest to put in TRIALBRIDGE_SITES / TRIALBRIDGE_USERS
 */
import { ConfigError, loadConfig } from '../config';
import { boot, stopOnSignals, type Role } from '../main';
import { openStore, stderrLogger } from '../runtime';
import { sha256Hex } from '../http';
import { LoadError } from '../util/load-problems';
import { validateMappingsCommand } from './validate-mappings';
import { evaluateCommand } from './evaluate';
import { previewCommand } from './preview';
import { importCommand } from './import';
import { connectCommand } from './connect';
import { exportPullCommand } from './export-pull';
import { exportCommand } from './export';

const USAGE = `usage: trialbridge <serve|worker|start|migrate|validate-mappings [dir]|import FILE --site ID|evaluate --trial KEY [--as-of DATE] FILE|preview --site ID [--json] FILE|subscribe --site ID|subscriptions --site ID|poll --site ID|export-pull --site ID [--since DATE]|export --trial KEY --format FORMAT [--out FILE]|hash-token [token]>`;

const out = { log: (s: string) => process.stdout.write(`${s}\n`), error: (s: string) => process.stderr.write(`${s}\n`) };

async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve':
    case 'worker':
    case 'start': {
      const running = await boot(loadConfig(process.env), cmd as Role);
      stopOnSignals(running);
      return -1; // keep running
    }
    case 'migrate': {
      const config = loadConfig(process.env, { redis: false });
      // openStore applies the migrations in TRIALBRIDGE_DB_SCHEMA, as boot does.
      let applied: readonly string[] = [];
      // The applied list goes to stdout; the logger only speaks up on trouble.
      const db = await openStore(config, stderrLogger('warn'), { onApplied: (names) => (applied = names) });
      await db.close();
      out.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      return 0;
    }
    case 'validate-mappings':
      return validateMappingsCommand(rest, out);
    case 'evaluate':
      return evaluateCommand(rest, out);
    case 'preview':
      return previewCommand(rest, out);
    case 'import':
      return importCommand(rest, out);
    case 'subscribe':
    case 'subscriptions':
    case 'poll':
      return connectCommand(cmd, rest, out);
    case 'export-pull':
      return exportPullCommand(rest, out);
    case 'export':
      return exportCommand(rest, out);
    case 'hash-token': {
      const token = rest[0] ?? (await readStdin()).trim();
      if (!token) {
        out.error('hash-token: give a token as argument or on stdin');
        return 2;
      }
      out.log(sha256Hex(token));
      return 0;
    }
    default:
      out.error(USAGE);
      return cmd ? 2 : 0;
  }
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e) => {
    // A bad mapping, trial or package file prints its problems, one per line, without a stack trace.
    if (e instanceof ConfigError || e instanceof LoadError) out.error(e.message);
    else out.error(`trialbridge: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
