/**
 * What every part of an ODM file looks up: the study's visits, forms and items by
 * code, the OIDs of units, users, sites and signature meanings, and the checks that a
 * value fits its ItemDef before the first byte is written (a file is never cut off
 * half-way by a bad value).
 */
import type { ExportDataset, ExportItem, ExportSignature, ExportUser, ExportValue, ExportVisit } from '../model';
import { OidMap } from './oids';

/** A dataset that cannot be written as valid ODM (a value for an item the CRF does not define, a unit that is not the CRF unit...). A writer bug or a stale dataset, never bad user input. */
export class OdmWriteError extends Error {
  override readonly name = 'OdmWriteError';
}

/** Integer digits an ItemDef allows (ItemDef Length = this + decimals): far above any lab or vital-sign value. */
export const NUMERIC_INTEGER_DIGITS = 10;

/** Length of a text item without a code list (none ship today). */
export const TEXT_LENGTH = 200;

export interface OdmContext {
  readonly ds: ExportDataset;
  readonly visits: ReadonlyMap<string, ExportVisit & { readonly order: number }>;
  readonly formOrder: ReadonlyMap<string, number>;
  readonly items: ReadonlyMap<string, ExportItem & { readonly order: number }>;
  /** Distinct CRF units (UCUM) in CRF item order. */
  readonly units: readonly string[];
  readonly unitOid: OidMap;
  /** ds.users plus anyone a value or signature names that ds.users lacks, sorted by id. */
  readonly users: readonly ExportUser[];
  readonly userOid: OidMap;
  /** Sites a user acted at (audits, signatures; the pipeline: every site with values), sorted. */
  readonly userSites: ReadonlyMap<string, readonly string[]>;
  /** Every site of the dataset, sorted. */
  readonly sites: readonly string[];
  readonly siteOid: OidMap;
  /** Signature meanings used, sorted. */
  readonly meanings: readonly string[];
  readonly meaningOid: OidMap;
  /** The latest valid signature per (subject, visit or '' for the whole CRF). */
  readonly signatures: ReadonlyMap<string, ExportSignature>;
}

export const itemKey = (form: string, item: string): string => `${form}|${item}`;
export const signatureKey = (subject: string, visit: string | null): string => `${subject}|${visit ?? ''}`;

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Pipeline user id (ExportUser.id of automatic values). */
export const PIPELINE_USER = 'trialbridge';

/** Builds the lookups for a file whose ClinicalData carries `values`; throws OdmWriteError when a value cannot be written. */
export function odmContext(ds: ExportDataset, values: readonly ExportValue[]): OdmContext {
  const visits = new Map(ds.study.visits.map((v, order) => [v.code, { ...v, order }] as const));
  const formOrder = new Map(ds.study.forms.map((f, i) => [f.form, i] as const));
  const items = new Map<string, ExportItem & { order: number }>();
  for (const f of ds.study.forms) f.items.forEach((it, order) => items.set(itemKey(f.form, it.item), { ...it, order }));
  const units = [...new Set(ds.study.forms.flatMap((f) => f.items.map((i) => i.unit)).filter((u): u is string => u !== null))];
  for (const v of values) checkValue(v, visits, items);
  for (const s of ds.signatures) if (!isDateTime(s.at)) throw new OdmWriteError(`ODM writer: signature ${s.id} has no ISO 8601 date-time`);
  if (!isDateTime(ds.asOf)) throw new OdmWriteError('ODM writer: the dataset asOf is not an ISO 8601 date-time');

  const sites = [...new Set([...ds.sites.map((s) => s.id), ...ds.subjects.map((s) => s.site), ...values.map((v) => v.site), ...ds.signatures.map((s) => s.site)])].sort(byString);
  const signatures = latestSignatures(ds.signatures);
  const users = usersOf(ds, values, [...signatures.values()]);
  const userSites = sitesOfUsers(values, [...signatures.values()], sites);
  const meanings = [...new Set([...signatures.values()].map((s) => s.meaning))].sort(byString);
  return {
    ds,
    visits,
    formOrder,
    items,
    units,
    unitOid: new OidMap('MU', units),
    users,
    userOid: new OidMap('USR', users.map((u) => u.id)),
    userSites,
    sites,
    siteOid: new OidMap('LOC', sites),
    meanings,
    meaningOid: new OidMap('SD', meanings),
    signatures,
  };
}

/** An xs:dateTime with a zone (DateTimeStamp, CreationDateTime, AsOfDateTime). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
export const isDateTime = (s: string): boolean => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s));

function checkValue(v: ExportValue, visits: ReadonlyMap<string, ExportVisit>, items: ReadonlyMap<string, ExportItem>): void {
  const where = `value ${v.id} (${v.form}.${v.item})`;
  const item = items.get(itemKey(v.form, v.item));
  if (!item) throw new OdmWriteError(`ODM writer: ${where} names an item the trial's CRF does not define`);
  if (!visits.has(v.visit)) throw new OdmWriteError(`ODM writer: ${where} is placed at visit ${v.visit}, which the trial does not define`);
  if (v.visitRepeat === '' || v.localDateTime === '') throw new OdmWriteError(`ODM writer: ${where} has an empty event or sample repeat key`);
  if (!isDateTime(v.audit.at)) throw new OdmWriteError(`ODM writer: ${where} has an audit time that is not an ISO 8601 date-time`);
  if (item.dataType !== 'text' && v.unit !== null && v.unit !== item.unit) throw new OdmWriteError(`ODM writer: ${where} is not in the CRF unit of its item`);
  formatValue(item, v);
}

/**
 * The ItemData Value: numbers with exactly the item's decimals (the CRF stores them
 * rounded to these, so this is the stored value, not a re-rounding), codes as the code.
 * Throws OdmWriteError when the value does not fit the ItemDef.
 */
export function formatValue(item: ExportItem, v: Pick<ExportValue, 'id' | 'value'>): string {
  const where = `value ${v.id} (${item.form}.${item.item})`;
  if (item.dataType === 'text') {
    const s = String(v.value);
    if (item.codeList && !item.codeList.some((c) => c.code === s)) throw new OdmWriteError(`ODM writer: ${where} is not a code of the item's code list`);
    if (s === '' || s.length > itemLength(item)) throw new OdmWriteError(`ODM writer: ${where} does not fit the item's length`);
    return s;
  }
  if (typeof v.value !== 'number' || !Number.isFinite(v.value)) throw new OdmWriteError(`ODM writer: ${where} is not a finite number`);
  const s = v.value.toFixed(item.decimals);
  if (s.replace(/[-.]/g, '').length > itemLength(item)) throw new OdmWriteError(`ODM writer: ${where} has more digits than the item allows`);
  return s;
}

/** ItemDef Length: digits of a number, characters of a text (the longest code). */
export function itemLength(item: ExportItem): number {
  if (item.dataType !== 'text') return NUMERIC_INTEGER_DIGITS + item.decimals;
  return item.codeList && item.codeList.length > 0 ? Math.max(...item.codeList.map((c) => c.code.length)) : TEXT_LENGTH;
}

/**
 * One Signature per StudyEventData or SubjectData (ODM 1.3.2 XSD: Signature is
 * minOccurs 0, maxOccurs 1): the latest valid signature of the visit (or of the whole
 * CRF) stands for it; earlier ones are superseded by it.
 */
function latestSignatures(list: readonly ExportSignature[]): Map<string, ExportSignature> {
  const out = new Map<string, ExportSignature>();
  for (const s of list) {
    const key = signatureKey(s.subject, s.visit);
    const had = out.get(key);
    if (!had || s.at > had.at || (s.at === had.at && s.id > had.id)) out.set(key, s);
  }
  return out;
}

function usersOf(ds: ExportDataset, values: readonly ExportValue[], signatures: readonly ExportSignature[]): ExportUser[] {
  const users = new Map<string, ExportUser>(ds.users.map((u) => [u.id, u]));
  if (!users.has(PIPELINE_USER)) users.set(PIPELINE_USER, { id: PIPELINE_USER, name: 'trialbridge', role: 'system' });
  for (const s of signatures) if (!users.has(s.signer)) users.set(s.signer, { id: s.signer, name: s.printedName, role: 'investigator' });
  for (const v of values) if (!users.has(v.audit.user)) users.set(v.audit.user, { id: v.audit.user, name: v.audit.user, role: 'data-manager' });
  return [...users.values()].sort((a, b) => byString(a.id, b.id));
}

function sitesOfUsers(values: readonly ExportValue[], signatures: readonly ExportSignature[], allSites: readonly string[]): Map<string, string[]> {
  const at = new Map<string, Set<string>>();
  const add = (user: string, site: string) => {
    let s = at.get(user);
    if (!s) at.set(user, (s = new Set()));
    s.add(site);
  };
  for (const v of values) add(v.audit.user, v.site);
  for (const s of signatures) add(s.signer, s.site);
  // The pipeline maps every site's feed, whether or not this file carries its values.
  for (const site of allSites) add(PIPELINE_USER, site);
  return new Map([...at].map(([user, s]) => [user, [...s].sort(byString)]));
}
