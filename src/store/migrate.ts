/**
 * Numbered, forward-only migrations (design.md habit 12): files
 * `migrations/NNN_name.sql`, each applied once in its own transaction, never
 * edited after it ships. An advisory lock serialises concurrent boots (serve
 * and worker starting together against one database).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from './db';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
/** Arbitrary constant key for pg_advisory_xact_lock: "trialbridge migrations". */
const MIGRATION_LOCK_KEY = 7_243_001;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = fs.readdirSync(dir).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const out = files.map((f) => ({ version: Number(f.slice(0, 3)), name: f.replace(/\.sql$/, ''), sql: fs.readFileSync(path.join(dir, f), 'utf8') }));
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 001, 002, ... without gaps; found ${m.name} at position ${i + 1}`);
  });
  return out;
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(db: Db, dir = MIGRATIONS_DIR): Promise<string[]> {
  const all = listMigrations(dir);
  await db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: string[] = [];
  for (const m of all) {
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const r = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (r.rows.length) return false;
      for (const stmt of splitStatements(m.sql)) await tx.query(stmt);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.name);
  }
  return applied;
}

/**
 * Splits a migration into statements on ';' at line ends, except inside
 * dollar-quoted bodies ($$ ... $$: trigger functions), which stay whole.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const part of sql.split(/(\$\$)/)) {
    if (part === '$$') {
      cur += part;
      continue;
    }
    // An odd number of $$ so far means we are inside a body: keep it as is.
    if ((cur.match(/\$\$/g) ?? []).length % 2 === 1) {
      cur += part;
      continue;
    }
    const pieces = part.split(/;\s*(?:\n|$)/);
    cur += pieces[0];
    for (const p of pieces.slice(1)) {
      out.push(cur);
      cur = p;
    }
  }
  out.push(cur);
  return out.map((s) => s.replace(/^\s*--.*$/gm, '').trim()).filter(Boolean);
}
