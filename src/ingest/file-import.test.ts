/**
 * The import streamer against a stub front door (no servers): batching with
 * at most one store in flight, what a failure mid-import reports, and
 * JSON.parse messages stripped of the input they quote. The
 * end-to-end behaviour on real PostgreSQL + Redis is in
 * test/integration/import.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../errors';
import type { AcceptResult, Receiver } from './accept';
import { formatSummary, importFile, InputError, parseProblem } from './file-import';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-import-unit-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const quiet = { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream;

const obs = (i: number) => ({
  resourceType: 'Observation', id: `o${i}`, status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '14631-6' }] },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2024-03-01T08:00:00Z',
  valueQuantity: { value: i, unit: 'umol/L', system: 'http://unitsofmeasure.org', code: 'umol/L' },
});

function ndjson(name: string, count: number): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Array.from({ length: count }, (_, i) => JSON.stringify(obs(i))).join('\n'));
  return file;
}

/** Records batch sizes and the largest number of concurrent accept calls; `fail(call)` decides a failure (the real door's failures are in the integration test). */
function stubReceiver(fail: (call: number) => unknown = () => null) {
  let next = 1;
  let active = 0;
  const seen = { calls: 0, maxActive: 0, sizes: [] as number[] };
  const receiver: Receiver = {
    async accept(_site, entries) {
      const call = ++seen.calls;
      active++;
      seen.maxActive = Math.max(seen.maxActive, active);
      seen.sizes.push(entries.length);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      const e = fail(call);
      if (e) throw e;
      return entries.map((it, index): AcceptResult => {
        const r = it.resource as { resourceType: string; id: string };
        return { index, outcome: 'created', resourceType: r.resourceType, id: r.id, versionId: `v${next++}` };
      });
    },
  };
  return { receiver, seen };
}

test('batches of N, never more than one store in flight', async () => {
  const { receiver, seen } = stubReceiver();
  const s = await importFile(ndjson('a.ndjson', 1050), { site: 's', batch: 100, receiver, traceId: 't', stderr: quiet });
  expect(s).toMatchObject({ status: 'completed', lines: 1050, resources: 1050, accepted: 1050, duplicate: 0 });
  expect(seen.sizes).toEqual([...Array(10).fill(100), 50]);
  expect(seen.maxActive).toBe(1);
}, 30_000);

test('Redis failing mid-import: failed summary with what was stored before and the batch that failed', async () => {
  const { receiver } = stubReceiver((call) => (call === 3 ? new AppError('queue-unavailable', '100 resource(s) stored; processing resumes when the queue is reachable') : null));
  const s = await importFile(ndjson('b.ndjson', 1000), { site: 's', batch: 100, receiver, traceId: 't', stderr: quiet });
  expect(s.status).toBe('failed');
  expect(s.accepted).toBe(200);
  expect(s.failedBatch).toBe(100);
  expect(s.error).toMatch(/^Redis failed while queueing/);
  const text = formatSummary(s);
  expect(text).toContain('FAILED');
  expect(text).toContain('200 new resources were stored and queued before the failure; the batch of 100 being stored may be partly stored');
  expect(text).toContain('importing the same file again is safe');
}, 30_000);

test('the database going away mid-import is a failure, not a rejection', async () => {
  const { receiver } = stubReceiver((call) => (call === 2 ? new AppError('store-unavailable', 'connect ECONNREFUSED 127.0.0.1:5432') : null));
  const s = await importFile(ndjson('c.ndjson', 300), { site: 's', batch: 100, receiver, traceId: 't', stderr: quiet });
  expect(s).toMatchObject({ status: 'failed', accepted: 100, rejected: 0, failedBatch: 100 });
}, 30_000);

test('interrupted (SIGINT): stops reading, the store in flight finishes, the counts say what is stored', async () => {
  const abort = new AbortController();
  const { receiver, seen } = stubReceiver((call) => (call === 2 ? (abort.abort('SIGINT'), null) : null));
  const s = await importFile(ndjson('d.ndjson', 1000), { site: 's', batch: 100, receiver, traceId: 't', stderr: quiet, signal: abort.signal });
  expect(s.status).toBe('failed');
  expect(s.error).toMatch(/^interrupted by SIGINT at line \d+$/);
  expect(s.accepted).toBe(seen.calls * 100);
  expect(seen.calls).toBeLessThan(10);
}, 30_000);

test('a byte order mark before the first line is not an error', async () => {
  const file = path.join(dir, 'bom.ndjson');
  fs.writeFileSync(file, `\uFEFF${JSON.stringify(obs(1))}\n${JSON.stringify(obs(2))}\n`);
  const { receiver } = stubReceiver();
  const s = await importFile(file, { site: 's', batch: 10, receiver, traceId: 't', stderr: quiet });
  expect(s).toMatchObject({ format: 'ndjson', accepted: 2, rejected: 0 });
});

test('an unreadable file is an InputError before anything is stored', async () => {
  const { receiver, seen } = stubReceiver();
  await expect(importFile(path.join(dir, 'missing.ndjson'), { site: 's', batch: 10, receiver, traceId: 't', stderr: quiet })).rejects.toThrow(InputError);
  expect(seen.calls).toBe(0);
});

test('JSON.parse messages lose the input they quote', () => {
  const problem = (text: string) => {
    try {
      JSON.parse(text);
    } catch (e) {
      return parseProblem(e);
    }
    throw new Error('parsed');
  };
  expect(problem('{"name": "Zelda Quintessa"')).toBe("Expected ',' or '}' after property value at character 27");
  expect(problem('{"name": Zelda}')).toBe('unexpected token');
  expect(problem('')).toBe('unexpected end of input');
});
