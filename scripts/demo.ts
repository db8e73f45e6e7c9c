/**
 * The demo: boots the connector (receiver + workers in one process), sends
 * every fixture case in fixtures/ over HTTP as a site EHR would, waits for the
 * workers, and prints the resulting CRF values per subject. Exits 0 when every
 * case's CRF values match its expected.json, 1 otherwise.
 */
import crypto from 'node:crypto';
import { sha256Hex } from '../src/http';
import { loadConfig } from '../src/config';
import { boot } from '../src/main';
import { diffValues, listFixtures, sendBundle } from './fixtures-lib';

async function main(): Promise<number> {
  const cases = listFixtures().flatMap((c) => (c.expected ? [{ ...c, expected: c.expected }] : []));
  const userToken = crypto.randomBytes(16).toString('hex');
  const siteToken = (name: string) => sha256Hex(`demo-${name}-${userToken}`);
  const siteId = (name: string) => `fx-${name}`.slice(0, 64);
  const config = loadConfig({
    ...process.env,
    PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    TRIALBRIDGE_QUEUE_PREFIX: process.env.TRIALBRIDGE_QUEUE_PREFIX ?? `demo-${process.pid}`,
    TRIALBRIDGE_SITES: JSON.stringify(cases.map((c) => ({ id: siteId(c.name), tokenSha256: sha256Hex(siteToken(c.name)), timeZone: 'Asia/Shanghai' }))),
    TRIALBRIDGE_USERS: JSON.stringify([{ id: 'demo', role: 'data-manager', tokenSha256: sha256Hex(userToken) }]),
  });
  const t0 = Date.now();
  const running = await boot(config, 'start');
  const url = `http://127.0.0.1:${running.port}`;
  console.log(`trialbridge demo: ${running.db.kind} store, receiver on ${url}, ${cases.length} fixture case(s)\n`);
  let failures = 0;
  try {
    for (const c of cases) {
      for (const input of c.inputs) {
        await sendBundle(url, siteToken(c.name), input.body);
        await waitForWorkers(running.db);
      }
    }
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
  } finally {
    await running.mapQueue.queue.obliterate({ force: true }).catch(() => undefined);
    await running.stop();
  }
  return failures ? 1 : 0;
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
