/**
 * ClinicalData: SubjectData > StudyEventData > FormData > ItemGroupData > ItemData,
 * each with the children the ODM 1.3.2 XSD allows in its order (AuditRecord?,
 * Signature?, ..., MeasurementUnitRef?). Keys:
 *
 * - SubjectKey: the trial subject number (never a patient identifier);
 * - StudyEventRepeatKey: only for the repeating unscheduled event, the site-local date
 *   (ExportValue.visitRepeat) — ODM 1.3.2: the key is present if and only if the
 *   StudyEventDef is repeating;
 * - ItemGroupRepeatKey: the sample's site-local date-time (ExportValue.localDateTime),
 *   one repeat per draw.
 *
 * Snapshot files carry no TransactionType (ODM 1.3.2: "For clinical data,
 * TransactionType in a Snapshot file must either not be present or be Insert").
 * Transactional files give ItemData Insert, Update or Remove (Remove without a value);
 * the containers above them are Upsert, since a container holds changed items whether
 * or not the receiver has seen it before, and "Properties not mentioned are not
 * modified" (ODM 1.3.2 Transactions) keeps the receiver's other items. The top-level
 * SubjectData states its TransactionType explicitly, as the spec requires.
 */
import { valueKey, type ExportSignature, type ExportValue, type ValueAudit, type ValueChange } from '../model';
import { formatValue, itemKey, PIPELINE_USER, signatureKey, type OdmContext } from './context';
import { formOid, itemGroupOid, itemOid, METADATA_VERSION_OID, studyEventOid } from './oids';
import type { Attrs, XmlWriter } from './xml';

export type ChangeKind = ValueChange['kind'];

/** One ItemData to write: a value, and in transactional files what happened to it. */
export interface Cell {
  readonly value: ExportValue;
  readonly kind: ChangeKind | null;
}

const CONTAINER_TRANSACTION = 'Upsert';
const ITEM_TRANSACTION: Readonly<Record<ChangeKind, string>> = { insert: 'Insert', update: 'Update', remove: 'Remove' };
/** Within one cell a Remove comes before the Insert that replaces it (transactions apply in document order). */
const KIND_ORDER: Readonly<Record<ChangeKind, number>> = { remove: 0, update: 1, insert: 2 };

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Reviewed values outrank automatic ones; then the later change; then the higher id. */
function outranks(a: ExportValue, b: ExportValue): boolean {
  const reviewed = (v: ExportValue) => (v.status === 'accepted' || v.status === 'corrected' ? 1 : 0);
  if (reviewed(a) !== reviewed(b)) return reviewed(a) > reviewed(b);
  if (a.audit.at !== b.audit.at) return a.audit.at > b.audit.at;
  return a.id > b.id;
}

/**
 * The snapshot's cells: one per value key (a Snapshot "may include only one instruction
 * per data point", and ODM has no repeating item inside an item group). Two values of
 * one key (the same analyte from two sources at the same sample time) keep the one that
 * outranks the other.
 */
export function snapshotCells(values: readonly ExportValue[]): Cell[] {
  const best = new Map<string, ExportValue>();
  for (const v of values) {
    const k = valueKey(v);
    const had = best.get(k);
    if (!had || outranks(v, had)) best.set(k, v);
  }
  return [...best.values()].map((value) => ({ value, kind: null }));
}

/**
 * The transactional cells: per value key at most one Insert or Update (the one that
 * outranks), preceded by a Remove only when an Insert replaces the removed value;
 * a key with only a Remove keeps it.
 */
export function transactionalCells(changes: readonly ValueChange[]): Cell[] {
  const byKey = new Map<string, { remove: ExportValue | null; put: ValueChange | null }>();
  for (const ch of changes) {
    const k = valueKey(ch.value);
    let slot = byKey.get(k);
    if (!slot) byKey.set(k, (slot = { remove: null, put: null }));
    if (ch.kind === 'remove') slot.remove ??= ch.value;
    else if (!slot.put || outranks(ch.value, slot.put.value)) slot.put = ch;
  }
  const cells: Cell[] = [];
  for (const { remove, put } of byKey.values()) {
    if (remove && (!put || put.kind === 'insert')) cells.push({ value: remove, kind: 'remove' });
    if (put) cells.push({ value: put.value, kind: put.kind });
  }
  return cells;
}

interface EventGroup {
  readonly visit: string;
  /** StudyEventRepeatKey, or null for a non-repeating event. */
  readonly repeat: string | null;
  readonly cells: Cell[];
}

function sortCells(c: OdmContext, cells: readonly Cell[]): Cell[] {
  const keyed = cells.map((cell) => {
    const v = cell.value;
    return { cell, visit: c.visits.get(v.visit)!.order, repeat: eventRepeat(c, v) ?? '', form: c.formOrder.get(v.form)!, item: c.items.get(itemKey(v.form, v.item))!.order, kind: KIND_ORDER[cell.kind ?? 'insert'] };
  });
  keyed.sort(
    (a, b) =>
      byString(a.cell.value.subject, b.cell.value.subject) ||
      a.visit - b.visit ||
      byString(a.repeat, b.repeat) ||
      a.form - b.form ||
      byString(a.cell.value.localDateTime, b.cell.value.localDateTime) ||
      a.item - b.item ||
      a.kind - b.kind,
  );
  return keyed.map((k) => k.cell);
}

function eventRepeat(c: OdmContext, v: ExportValue): string | null {
  return c.visits.get(v.visit)!.kind === 'unscheduled' ? v.visitRepeat : null;
}

/** Consecutive runs of sorted items sharing a key. */
function runs<T>(list: readonly T[], key: (t: T) => string): T[][] {
  const out: T[][] = [];
  let last: string | undefined;
  for (const t of list) {
    const k = key(t);
    if (out.length === 0 || k !== last) out.push([]);
    out[out.length - 1].push(t);
    last = k;
  }
  return out;
}

export interface ClinicalOptions {
  /** Snapshot: every subject of the dataset, and signed visits even without values. Transactional: subjects and events with changes only. */
  readonly transactional: boolean;
}

/** Streams ClinicalData: yields a chunk whenever the writer's buffer is full. */
export function* writeClinicalData(w: XmlWriter, c: OdmContext, cells: Cell[], opts: ClinicalOptions): Generator<string> {
  w.open('ClinicalData', [['StudyOID', c.ds.study.trial], ['MetaDataVersionOID', METADATA_VERSION_OID]]);
  const bySubject = new Map(runs(sortCells(c, cells), (x) => x.value.subject).map((r) => [r[0].value.subject, r] as const));
  const siteOf = new Map(c.ds.subjects.map((s) => [s.subject, s.site] as const));
  const subjects = opts.transactional ? [...bySubject.keys()] : [...new Set([...c.ds.subjects.map((s) => s.subject), ...bySubject.keys()])].sort(byString);
  for (const subject of subjects) {
    const own = bySubject.get(subject) ?? [];
    yield* writeSubject(w, c, subject, siteOf.get(subject) ?? own[0].value.site, own, opts);
  }
  w.close('ClinicalData');
}

function* writeSubject(w: XmlWriter, c: OdmContext, subject: string, site: string, cells: readonly Cell[], opts: ClinicalOptions): Generator<string> {
  const tx = opts.transactional ? CONTAINER_TRANSACTION : null;
  w.open('SubjectData', [['SubjectKey', subject], ['TransactionType', tx]]);
  const whole = c.signatures.get(signatureKey(subject, null));
  if (whole) writeSignature(w, c, whole);
  w.empty('SiteRef', [['LocationOID', c.siteOid.get(site)]]);
  for (const e of eventsOf(c, subject, cells, opts)) {
    w.open('StudyEventData', [['StudyEventOID', studyEventOid(e.visit)], ['StudyEventRepeatKey', e.repeat], ['TransactionType', tx]]);
    const signed = c.signatures.get(signatureKey(subject, e.visit));
    if (signed) writeSignature(w, c, signed);
    for (const form of runs(e.cells, (x) => x.value.form)) {
      w.open('FormData', [['FormOID', formOid(form[0].value.form)], ['TransactionType', tx]]);
      for (const group of runs(form, (x) => x.value.localDateTime)) {
        w.open('ItemGroupData', [['ItemGroupOID', itemGroupOid(form[0].value.form)], ['ItemGroupRepeatKey', group[0].value.localDateTime], ['TransactionType', tx]]);
        for (const cell of group) writeItemData(w, c, cell);
        w.close('ItemGroupData');
        const chunk = w.take();
        if (chunk) yield chunk;
      }
      w.close('FormData');
    }
    w.close('StudyEventData');
  }
  w.close('SubjectData');
  const chunk = w.take();
  if (chunk) yield chunk;
}

/**
 * The subject's events in schedule order. A snapshot also lists a signed scheduled
 * visit that has no value (its Signature is data too); a signature of the unscheduled
 * event goes on each of its repeats, as it signs them all.
 */
function eventsOf(c: OdmContext, subject: string, cells: readonly Cell[], opts: ClinicalOptions): EventGroup[] {
  const events: EventGroup[] = runs(cells, (x) => `${x.value.visit}|${eventRepeat(c, x.value) ?? ''}`).map((r) => ({ visit: r[0].value.visit, repeat: eventRepeat(c, r[0].value), cells: r }));
  if (opts.transactional) return events;
  for (const v of c.ds.study.visits) {
    if (v.kind === 'unscheduled' || events.some((e) => e.visit === v.code)) continue;
    if (c.signatures.has(signatureKey(subject, v.code))) events.push({ visit: v.code, repeat: null, cells: [] });
  }
  return events.sort((a, b) => c.visits.get(a.visit)!.order - c.visits.get(b.visit)!.order || byString(a.repeat ?? '', b.repeat ?? ''));
}

function writeSignature(w: XmlWriter, c: OdmContext, s: ExportSignature): void {
  w.open('Signature');
  w.empty('UserRef', [['UserOID', c.userOid.get(s.signer)]]);
  w.empty('LocationRef', [['LocationOID', c.siteOid.get(s.site)]]);
  w.empty('SignatureRef', [['SignatureOID', c.meaningOid.get(s.meaning)]]);
  w.text('DateTimeStamp', s.at);
  w.close('Signature');
}

/**
 * Who removed a value, when and why. A rejected or superseded value carries the
 * change that ended it; any other removed value is the copy last sent (the store keeps
 * it so the file can name its event and item group), whose audit is that of the old
 * value: the removal then is trialbridge's, as of this file's data, since the value
 * simply left the export's selection (moved to another visit or sample time, or no
 * longer reviewed).
 */
function removalAudit(c: OdmContext, v: ExportValue): ValueAudit {
  switch (v.status) {
    case 'rejected':
      return { ...v.audit, reason: v.audit.reason ?? 'Rejected in data review' };
    case 'superseded':
      return { ...v.audit, reason: v.audit.reason ?? 'Superseded by a newer version of the source record' };
    default:
      return { user: PIPELINE_USER, at: c.ds.asOf, reason: 'No longer at this visit or sample time, or no longer selected for export' };
  }
}

function writeItemData(w: XmlWriter, c: OdmContext, cell: Cell): void {
  const v = cell.value;
  const item = c.items.get(itemKey(v.form, v.item))!;
  const removed = cell.kind === 'remove';
  const attrs: Attrs = [['ItemOID', itemOid(v.form, v.item)], ['TransactionType', cell.kind ? ITEM_TRANSACTION[cell.kind] : null], ['Value', removed ? null : formatValue(item, v)]];
  w.open('ItemData', attrs);
  // Who last changed the value, where, when, why, from which source resource (21 CFR Part 11 §11.10(e)).
  const audit = removed ? removalAudit(c, v) : v.audit;
  const reviewed = audit.user !== PIPELINE_USER && v.status !== 'auto';
  w.open('AuditRecord', [['EditPoint', reviewed ? 'DataManagement' : null]]);
  w.empty('UserRef', [['UserOID', c.userOid.get(audit.user)]]);
  w.empty('LocationRef', [['LocationOID', c.siteOid.get(v.site)]]);
  w.text('DateTimeStamp', audit.at);
  if (audit.reason !== null) w.text('ReasonForChange', audit.reason);
  w.text('SourceID', v.source);
  w.close('AuditRecord');
  const unit = v.unit ?? item.unit;
  if (!removed && item.dataType !== 'text' && unit !== null) w.empty('MeasurementUnitRef', [['MeasurementUnitOID', c.unitOid.get(unit)]]);
  w.close('ItemData');
}
