/**
 * Test support for the CSV writers (REDCap, LB/EX): the studies of the shipped
 * trials, hand-made subjects, values and administrations with plain defaults,
 * and a small RFC 4180 reader so tests read the files back as REDCap or a
 * statistics package would.
 */
import { DEFAULT_MAPPINGS_DIR, loadMappings } from '../mapping';
import { loadTrials } from '../protocol/trials';
import type { ExportAdministration, ExportDataset, ExportStudy, ExportSubject, ExportValue } from './model';
import { buildStudy } from './study';

const trials = loadTrials();
const mappings = loadMappings(DEFAULT_MAPPINGS_DIR);

/** The export study of a shipped trial (mappings/trials + mappings/crf). */
export function shippedStudy(key: string): ExportStudy {
  const trial = trials.get(key);
  if (!trial) throw new Error(`no shipped trial ${key}`);
  return buildStudy(trial, mappings);
}

export function subject(p: Partial<ExportSubject> & Pick<ExportSubject, 'subject'>): ExportSubject {
  return { site: 'site-a', arm: null, status: 'on-study', day0: null, ...p };
}

let nextId = 1;

/** A reviewed LB value at 07:00 +08:00 on `localDate` unless said otherwise. */
export function value(p: Partial<ExportValue> & Pick<ExportValue, 'subject' | 'visit' | 'item' | 'value'>): ExportValue {
  const localDate = p.localDate ?? p.localDateTime?.slice(0, 10) ?? '2024-03-04';
  const localDateTime = p.localDateTime ?? `${localDate}T07:00:00+08:00`;
  const effective = p.effective ?? (localDateTime.length > 10 ? new Date(localDateTime).toISOString() : `${localDate}T00:00:00.000Z`);
  const id = p.id ?? nextId++;
  return {
    id,
    site: 'site-a',
    form: 'LB',
    visitRepeat: p.visit === 'UNS' ? localDate : '1',
    unit: null,
    originalValue: p.value,
    originalUnit: p.unit ?? null,
    status: 'accepted',
    loinc: '1975-2',
    interpretation: null,
    source: `Observation/o${id}/_history/1`,
    audit: { user: 'dora', at: '2024-03-05T01:00:00Z', reason: null },
    ...p,
    localDate,
    localDateTime,
    effective,
  };
}

export function administration(p: Partial<ExportAdministration> & Pick<ExportAdministration, 'subject' | 'visit' | 'start'>): ExportAdministration {
  return { site: 'site-a', source: `MedicationAdministration/${p.subject}-${p.visit}/_history/1`, dose: 62500000, doseUnit: '{cells}', state: 'given', adjustment: null, ...p };
}

export function dataset(study: ExportStudy, p: Partial<Omit<ExportDataset, 'study'>> = {}): ExportDataset {
  return {
    study,
    sites: [{ id: 'site-a', timeZone: 'Asia/Shanghai' }],
    users: [{ id: 'trialbridge', name: 'trialbridge', role: 'system' }, { id: 'dora', name: 'Dora Data', role: 'data-manager' }],
    subjects: [],
    values: [],
    administrations: [],
    signatures: [],
    asOf: '2024-03-06T10:20:30.000Z',
    ...p,
  };
}

/**
 * RFC 4180 reader: records end with CRLF (a bare LF or CR inside a record is
 * an error unless quoted), fields quoted with doubled quotes inside. Strict, so
 * a writer bug shows up as a parse error.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') throw new Error(`quote inside an unquoted field at ${i}`);
        field += text[i++];
      }
    }
    row.push(field);
    if (text[i] === ',') { i++; continue; }
    if (text.startsWith('\r\n', i)) { rows.push(row); row = []; i += 2; continue; }
    throw new Error(`expected a comma or CRLF at ${i}`);
  }
  if (row.length) throw new Error('the last record has no CRLF');
  return rows;
}

/** The rows of a CSV file as objects keyed by the header. */
export function csvObjects(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  return rows.map((r) => {
    if (r.length !== header.length) throw new Error(`a record has ${r.length} fields, the header ${header.length}`);
    return Object.fromEntries(header.map((h, i) => [h, r[i]]));
  });
}
