/**
 * The database handle: PostgreSQL through `pg`, or the embedded PGlite (real
 * Postgres compiled to WASM, in-process, persisted to a directory) when
 * DATABASE_URL is unset. Both run the same migrations and SQL.
 *
 * Differences smoothed here: PGlite returns int8 as a number where `pg`
 * returns a string; we make `pg` return numbers too (ids stay far below 2^53).
 */
import pg from 'pg';
import fs from 'node:fs';

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Db {
  readonly kind: 'pg' | 'pglite';
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Runs fn in one transaction; the handle passed to fn must be used for every statement of it. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

export interface OpenDbOptions {
  databaseUrl: string | null;
  dataDir?: string;
  /** PostgreSQL schema to use (tests isolate themselves with a schema per file). */
  schema?: string;
  poolSize?: number;
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

export async function openDb(opts: OpenDbOptions): Promise<Db> {
  return opts.databaseUrl ? openPg(opts.databaseUrl, opts.schema, opts.poolSize ?? 10) : openPglite(opts.dataDir ?? '.data/pglite', opts.schema);
}

async function openPg(url: string, schema: string | undefined, max: number): Promise<Db> {
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => (v === null ? null : Number(v));
      return pg.types.getTypeParser(oid, format as 'text');
    },
  };
  const pool = new pg.Pool({
    connectionString: url,
    max,
    types: types as pg.CustomTypesConfig,
    // A statement that hangs (lock, dead server) must fail so the job is retried, not stall a worker forever.
    statement_timeout: 30_000,
    connectionTimeoutMillis: 5_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  if (schema) {
    const c = await pool.connect();
    try {
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    } finally {
      c.release();
    }
  }
  const wrap = (q: pg.Pool | pg.PoolClient, inTx: boolean): Db => ({
    kind: 'pg',
    async query<T>(sql: string, params: readonly unknown[] = []) {
      const r = await q.query(sql, params as unknown[]);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      if (inTx) return fn(wrap(q, true));
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const out = await fn(wrap(client, true));
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
    async close() {
      if (!inTx) await pool.end();
    },
  });
  return wrap(pool, false);
}

async function openPglite(dataDir: string, schema: string | undefined): Promise<Db> {
  const { PGlite } = await import('@electric-sql/pglite');
  fs.mkdirSync(dataDir, { recursive: true });
  const lite = await PGlite.create({ dataDir });
  if (schema) await lite.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}; SET search_path TO ${quoteIdent(schema)}`);
  type Q = { query: (sql: string, params?: unknown[]) => Promise<{ rows: unknown[]; affectedRows?: number }> };
  const wrap = (q: Q, inTx: boolean): Db => ({
    kind: 'pglite',
    async query<T>(sql: string, params: readonly unknown[] = []) {
      const r = await q.query(sql, params as unknown[]);
      return { rows: r.rows as T[], rowCount: r.affectedRows ?? r.rows.length };
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      if (inTx) return fn(wrap(q, true));
      return lite.transaction((tx) => fn(wrap(tx as unknown as Q, true)));
    },
    async close() {
      if (!inTx) await lite.close();
    },
  });
  return wrap(lite as unknown as Q, false);
}

/** Errors that mean "the database or network is unwell", retried with backoff; anything else is about the data or a bug. */
export function isTransientDbError(e: unknown): boolean {
  const code = String((e as { code?: unknown }).code ?? '');
  // Class 08 connection exceptions, 53 insufficient resources, 57P0x shutdown, 40001/40P01 serialization/deadlock.
  if (/^(08|53|57P0|40001|40P01)/.test(code)) return true;
  if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/.test(code)) return true;
  return /timeout|terminat|Connection|connect/i.test((e as Error)?.message ?? '');
}

