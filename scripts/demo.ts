/**
 * The demo: boots the connector (receiver + workers in one process), sends
 * every fixture case in fixtures/ over HTTP as a site EHR would, waits for the
 * workers, and prints the resulting CRF values per subject, then the review
 * workbench's address and two demo users (a data manager and an investigator)
 * with the access tokens they sign in with at /ui/login.
 *
 * Exits 0 when every case's CRF values match its expected.json, 1 otherwise.
 * With `--serve` it stays up after the checks (the workbench with the demo's
 * data) until SIGINT/SIGTERM, then stops everything and exits with that status.
 * PORT picks the port (default: any free one).
 */
import crypto from 'node:crypto';
import { sha256Hex } from '../src/http';
import { loadConfig } from '../src/config';
import { boot } from '../src/main';
import { diffValues, listFixtures, sendBundle } from './fixtures-lib';

const SERVE = process.argv.slice(2).includes('--serve');

/** The demo's users: README "Review data" walks through the workbench as these two. */
const DEMO_USERS = [
  { id: 'demo-dm', role: 'data-manager', name: 'Dana Demo' },
  { id: 'demo-inv', role: 'investigator', name: 'Ivo Demo' },
] as const;

async function main(): Promise<number> {
  const unknown = process.argv.slice(2).filter((a) => a !== '--serve');
  if (unknown.length) {
    console.error(`usage: npm run demo [-- --serve]   (unknown argument: ${unknown.join(' ')})`);
    return 2;
  }
  const cases = listFixtures().flatMap((c) => (c.expected ? [{ ...c, expected: c.expected }] : []));
  const tokens = Object.fromEntries(DEMO_USERS.map((u) => [u.id, crypto.randomBytes(16).toString('hex')])) as Record<(typeof DEMO_USERS)[number]['id'], string>;
  const userToken = tokens['demo-dm'];
  const siteToken = (name: string) => sha256Hex(`demo-${name}-${userToken}`);
  const siteId = (name: string) => `fx-${name}`.slice(0, 64);
  const config = loadConfig({
    ...process.env,
    PORT: process.env.PORT ?? '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    TRIALBRIDGE_QUEUE_PREFIX: process.env.TRIALBRIDGE_QUEUE_PREFIX ?? `demo-${process.pid}`,
    TRIALBRIDGE_SITES: JSON.stringify(cases.map((c) => ({ id: siteId(c.name), tokenSha256: sha256Hex(siteToken(c.name)), timeZone: 'Asia/Shanghai' }))),
    TRIALBRIDGE_USERS: JSON.stringify(DEMO_USERS.map((u) => ({ ...u, tokenSha256: sha256Hex(tokens[u.id]) }))),
  });
  const t0 = Date.now();
  const running = await boot(config, 'start');
  const url = `http://127.0.0.1:${running.port}`;
  console.log(`trialbridge demo: ${running.db.kind} store, receiver on ${url}, ${cases.length} fixture case(s)\n`);
  let failures = 0;
  // Ctrl-C reaches both this process and scripts/demo.sh, which forwards it: one stop for both.
  let stopRequested: (() => void) | null = null;
  const stopSignal = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSignal = () => stopRequested?.();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const c of cases) {
      for (const input of c.inputs) {
        await sendBundle(url, siteToken(c.name), input.body);
        await waitForWorkers(running.db);
      }
    }
    await waitForEvaluations(running);
    for (const c of cases) {
      console.log(`== ${c.name}: ${c.expected.description}`);
      for (const subject of Object.keys(c.expected.crf)) {
        const res = await fetch(`${url}/api/subjects/${encodeURIComponent(subject)}/crf`, { headers: { authorization: `Bearer ${userToken}` } });
        const body = (await res.json()) as { values?: any[] };
        const values = (body.values ?? []).filter((v) => v.site === siteId(c.name));
        console.log(`   subject ${subject}`);
        for (const v of values) {
          console.log(`     ${v.trial.padEnd(16)} ${v.form}.${v.item.padEnd(7)} ${String(v.value).padStart(9)} ${(v.unit ?? '').padEnd(8)} ${(v.localDateTime ?? v.effective).slice(0, 16)}  from ${v.originalValue} ${v.originalUnit ?? ''} (${v.source.reference})`);
        }
        const diff = diffValues(values, c.expected.crf[subject]);
        if (diff.length) {
          failures++;
          for (const d of diff) console.log(`     !! ${d}`);
        }
      }
    }
    console.log(`\ndone in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${failures ? `${failures} subject(s) differ from expected.json` : 'every subject matches its expected.json'}`);
    printWorkbench(url, tokens);
    if (SERVE) {
      console.log('\nserving until interrupted (Ctrl-C stops the connector and its Redis)');
      await stopSignal;
      console.log('\nstopping');
    } else {
      console.log('\n(the connector stops now; `npm run demo -- --serve` keeps it and the workbench running)');
    }
  } finally {
    await running.mapQueue.queue.obliterate({ force: true }).catch(() => undefined);
    await running.stop();
  }
  return failures ? 1 : 0;
}

function printWorkbench(url: string, tokens: Record<string, string>): void {
  console.log(`\nreview workbench: ${url}/ui/`);
  console.log(`sign in at ${url}/ui/login with "Sign in with an access token", as:`);
  for (const u of DEMO_USERS) console.log(`  ${u.role.padEnd(13)} ${u.id.padEnd(9)} token ${tokens[u.id]}`);
  console.log('(signing a visit needs a re-authentication at an OpenID provider; see README "Review data")');
}

/** The subject reports behind the workbench pages are written by the evaluate-subject worker after mapping. */
async function waitForEvaluations(running: import('../src/main').Running): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const c = await running.evaluateQueue.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    if (Object.values(c).every((n) => n === 0)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('subject evaluations did not finish within 60 s');
}

async function waitForWorkers(db: import('../src/store/db').Db): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const r = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM inbound WHERE state = 'received'");
    if (Number(r.rows[0].n) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('workers did not finish within 60 s');
}

main().then((code) => process.exit(code), (e) => {
  console.error(`demo failed: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
