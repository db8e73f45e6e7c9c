/**
 * Electronic signatures of a subject's CRF, per visit or whole (migration 011;
 * 21 CFR Part 11 §11.50 manifestation, §11.70 signature/record linking).
 *
 * A signature records the ids of the values signed and a SHA-256 over their
 * canonical JSON. After every evaluation the hash of each valid signature is
 * computed again over the values that count now; when it differs the signature
 * is voided (the data it vouched for are gone) and a `signature-void` flag asks
 * the investigator to sign again. Signing again makes a new row.
 */
import crypto from 'node:crypto';
import { appendAudit, SYSTEM_ACTOR, type Actor } from './audit';
import type { Db } from './db';
import type { FlagInput } from './evaluation';

/** Controlled meanings of a signature (§11.50(a)(3)): what the signer vouches for. */
export const SIGNATURE_MEANINGS = ['reviewed and approved', 'reviewed', 'approved'] as const;
export type SignatureMeaning = (typeof SIGNATURE_MEANINGS)[number];

export interface SubjectRef {
  readonly trial: string;
  readonly subject: string;
  readonly site: string;
}

/** One signed value, as hashed. */
export interface SignedValue {
  readonly id: number;
  readonly item: string;
  readonly value: number | string;
  readonly unit: string | null;
  readonly status: string;
}

/** Canonical JSON of signed values: ordered by id, keys in a fixed order (id, item, value, unit, status). */
export function canonicalValues(values: readonly SignedValue[]): string {
  const sorted = [...values].sort((a, b) => a.id - b.id);
  return JSON.stringify(sorted.map((v) => ({ id: v.id, item: v.item, value: v.value, unit: v.unit, status: v.status })));
}

export const valuesHash = (values: readonly SignedValue[]): string => crypto.createHash('sha256').update(canonicalValues(values), 'utf8').digest('hex');

/** Item ids whose values differ between two sets (added, removed or changed), sorted. */
export function changedItems(before: readonly SignedValue[], after: readonly SignedValue[]): string[] {
  const key = (v: SignedValue) => JSON.stringify([v.id, v.item, v.value, v.unit, v.status]);
  const a = new Set(before.map(key));
  const b = new Set(after.map(key));
  const items = new Set<string>();
  for (const v of before) if (!b.has(key(v))) items.add(v.item);
  for (const v of after) if (!a.has(key(v))) items.add(v.item);
  return [...items].sort();
}

/**
 * The values a signature covers: for a visit, the values that count for it
 * (its visit assignments, not the ones another value of the same item
 * outranked); for the whole CRF (visit null), every value of the subject that
 * is neither superseded nor rejected.
 */
export async function countingValues(db: Db, k: SubjectRef, visit: string | null): Promise<SignedValue[]> {
  const r = visit === null
    ? await db.query<SignedValue>(
        `SELECT id, item, value, unit, status FROM crf_values
         WHERE trial = $1 AND subject = $2 AND site = $3 AND status NOT IN ('superseded', 'rejected') ORDER BY id`,
        [k.trial, k.subject, k.site],
      )
    : await db.query<SignedValue>(
        `SELECT DISTINCT c.id, c.item, c.value, c.unit, c.status FROM visit_assignments a JOIN crf_values c ON c.id = a.crf_value_id
         WHERE a.trial = $1 AND a.subject = $2 AND a.site = $3 AND a.visit = $4 AND a.placement <> 'not-selected'
           AND c.status NOT IN ('superseded', 'rejected') ORDER BY c.id`,
        [k.trial, k.subject, k.site, visit],
      );
  return r.rows.map((x) => ({ id: Number(x.id), item: x.item, value: x.value, unit: x.unit, status: x.status }));
}

export interface SignatureRow {
  readonly id: number;
  readonly trial: string;
  readonly site: string;
  readonly subject: string;
  readonly visit: string | null;
  readonly signer: string;
  readonly signerRole: string;
  readonly printedName: string;
  readonly meaning: string;
  /** UTC instant. */
  readonly signedAt: string;
  /** Site-local wall time with offset. */
  readonly signedAtLocal: string | null;
  readonly valueIds: number[];
  readonly valuesHash: string;
  readonly status: 'valid' | 'void';
  readonly voidedAt: string | null;
  readonly voidReason: string | null;
}

type Raw = {
  id: number; trial: string; site: string; subject: string; visit: string | null; signer_id: string; signer_role: string; printed_name: string;
  meaning: string; signed_at: Date; signed_at_local: string | null; value_ids: (string | number)[]; signed_values: SignedValue[]; values_hash: string;
  voided_at: Date | null; void_reason: string | null;
};

const COLUMNS = 'id, trial, site, subject, visit, signer_id, signer_role, printed_name, meaning, signed_at, signed_at_local, value_ids, signed_values, values_hash, voided_at, void_reason';

const fromRaw = (x: Raw): SignatureRow => ({
  id: Number(x.id), trial: x.trial, site: x.site, subject: x.subject, visit: x.visit, signer: x.signer_id, signerRole: x.signer_role,
  printedName: x.printed_name, meaning: x.meaning, signedAt: new Date(x.signed_at).toISOString(), signedAtLocal: x.signed_at_local,
  valueIds: x.value_ids.map(Number), valuesHash: x.values_hash, status: x.voided_at ? 'void' : 'valid',
  voidedAt: x.voided_at ? new Date(x.voided_at).toISOString() : null, voidReason: x.void_reason,
});

/**
 * Signs the values that count now for `visit` (null: the whole CRF) as `actor`,
 * and audits it, in the caller's transaction. Returns the new row, or null when
 * there is nothing to sign.
 */
export async function createSignature(
  tx: Db, k: SubjectRef, actor: Actor, s: { visit: string | null; meaning: SignatureMeaning; sessionId: string | null },
): Promise<SignatureRow | null> {
  const values = await countingValues(tx, k, s.visit);
  if (!values.length) return null;
  const hash = valuesHash(values);
  const r = await tx.query<Raw>(
    `INSERT INTO signatures (trial, site, subject, visit, meaning, signer_id, signer_role, printed_name, signed_at_local, session_id, value_ids, signed_values, values_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, audit_local_time(clock_timestamp(), $2), $9, $10::bigint[], $11::jsonb, $12) RETURNING ${COLUMNS}`,
    [k.trial, k.site, k.subject, s.visit, s.meaning, actor.id, actor.role, actor.name, s.sessionId, values.map((v) => v.id), canonicalValues(values), hash],
  );
  const row = fromRaw(r.rows[0]);
  await appendAudit(tx, actor, {
    trial: k.trial, site: k.site, subject: k.subject, entity: 'signature', entityId: String(row.id), action: 'sign', field: row.visit ?? 'CRF',
    newValue: { meaning: row.meaning, printedName: row.printedName, signedAt: row.signedAt, signedAtLocal: row.signedAtLocal, valueIds: row.valueIds, valuesHash: hash },
  });
  return row;
}

/** A subject's signatures, oldest first. */
export async function listSignatures(db: Db, k: SubjectRef): Promise<SignatureRow[]> {
  const r = await db.query<Raw>(`SELECT ${COLUMNS} FROM signatures WHERE trial = $1 AND subject = $2 AND site = $3 ORDER BY id`, [k.trial, k.subject, k.site]);
  return r.rows.map(fromRaw);
}

/**
 * Voids every valid signature of the subject whose values changed since
 * signing (audited as the system). Call after the visit assignments were
 * stored, in the same transaction. Returns the voided rows.
 */
export async function voidChangedSignatures(tx: Db, k: SubjectRef): Promise<SignatureRow[]> {
  const r = await tx.query<Raw>(
    `SELECT ${COLUMNS} FROM signatures WHERE trial = $1 AND subject = $2 AND site = $3 AND voided_at IS NULL ORDER BY id FOR UPDATE`,
    [k.trial, k.subject, k.site],
  );
  const voided: SignatureRow[] = [];
  for (const raw of r.rows) {
    const now = await countingValues(tx, k, raw.visit);
    if (valuesHash(now) === raw.values_hash) continue;
    const reason = `signed values changed: ${changedItems(raw.signed_values, now).join(', ')}`;
    const u = await tx.query<Raw>(
      `UPDATE signatures SET voided_at = clock_timestamp(), void_reason = $2 WHERE id = $1 AND voided_at IS NULL RETURNING ${COLUMNS}`,
      [raw.id, reason],
    );
    if (!u.rows[0]) continue;
    const row = fromRaw(u.rows[0]);
    await appendAudit(tx, SYSTEM_ACTOR, {
      trial: k.trial, site: k.site, subject: k.subject, entity: 'signature', entityId: String(row.id), action: 'void', field: 'status',
      oldValue: 'valid', newValue: 'void', reason,
    });
    voided.push(row);
  }
  return voided;
}

/**
 * One `signature-void` flag per visit (or whole CRF) whose latest signature is
 * void: it stays raised until the investigator signs that visit again.
 */
export async function signatureVoidFlags(db: Db, k: SubjectRef): Promise<FlagInput[]> {
  const r = await db.query<Raw>(
    `SELECT DISTINCT ON (coalesce(visit, '')) ${COLUMNS} FROM signatures WHERE trial = $1 AND subject = $2 AND site = $3
     ORDER BY coalesce(visit, ''), id DESC`,
    [k.trial, k.subject, k.site],
  );
  return r.rows.filter((x) => x.voided_at).map((x) => ({
    code: 'signature-void',
    severity: 'warning',
    visit: x.visit,
    criterion: null,
    message: `the signature of ${x.visit ?? 'the whole CRF'} is void (${x.void_reason ?? 'signed values changed'}); sign again`,
    evidence: [`Signature/${x.id}`],
  }));
}
