/**
 * Datasets for the ODM writer tests: the study of a REAL shipped trial (buildStudy on
 * mappings/trials + mappings/crf), hand-made subjects and values, and the schema check
 * with xmllint against the official ODM 1.3.2 XSD.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { DEFAULT_MAPPINGS_DIR, loadMappings } from '../../mapping';
import { loadTrials } from '../../protocol/trials';
import type { ExportDataset, ExportItem, ExportSignature, ExportStudy, ExportUser, ExportValue, ValueAudit, ValueStatus } from '../model';
import { buildStudy } from '../study';

const REPO = path.resolve(__dirname, '../../..');
export const ODM_XSD = path.resolve(REPO, '../shared/cdisc-odm-1.3.2/ODM1-3-2.xsd');

const mappings = loadMappings(DEFAULT_MAPPINGS_DIR);
const trials = loadTrials(path.join(REPO, 'mappings/trials'));
export const TRIAL_KEYS = trials.keys;

export function studyOf(key: string): ExportStudy {
  return buildStudy(trials.get(key)!, mappings);
}

export const SITES = [
  { id: 'site-a', timeZone: 'Asia/Shanghai' },
  { id: 'site-b', timeZone: 'Europe/Berlin' },
] as const;

export const USERS: ExportUser[] = [
  { id: 'trialbridge', name: 'trialbridge', role: 'system' },
  { id: 'dora', name: 'Dora Data-Manager', role: 'data-manager' },
  { id: 'ivan', name: 'Ivan Investigator', role: 'investigator' },
];

const OFFSET: Record<string, string> = { 'site-a': '+08:00', 'site-b': '+01:00' };

let nextId = 1;

export interface ValueSpec {
  readonly subject: string;
  readonly site?: 'site-a' | 'site-b';
  readonly visit: string;
  readonly visitRepeat?: string;
  /** Site-local date (YYYY-MM-DD); the sample time is 07:30 local unless dateOnly. */
  readonly date: string;
  readonly time?: string;
  readonly dateOnly?: boolean;
  readonly value?: number | string;
  readonly status?: ValueStatus;
  readonly audit?: Partial<ValueAudit>;
}

/** One stored CRF value of `item` (CRF unit, source reference with version). */
export function valueOf(item: ExportItem, spec: ValueSpec): ExportValue {
  const site = spec.site ?? 'site-a';
  const id = nextId++;
  const time = spec.time ?? '07:30:00';
  const localDateTime = spec.dateOnly ? spec.date : `${spec.date}T${time}${OFFSET[site]}`;
  const effective = new Date(spec.dateOnly ? `${spec.date}T00:00:00Z` : localDateTime).toISOString();
  const value = spec.value ?? (item.codeList ? item.codeList[0].code : sample(item, id));
  const status = spec.status ?? 'auto';
  return {
    id,
    subject: spec.subject,
    site,
    form: item.form,
    item: item.item,
    visit: spec.visit,
    visitRepeat: spec.visitRepeat ?? (spec.visit === 'UNS' ? spec.date : '1'),
    value,
    unit: item.unit,
    originalValue: value,
    originalUnit: item.unit,
    effective,
    localDateTime,
    localDate: spec.date,
    status,
    loinc: item.loinc[0].code,
    interpretation: null,
    source: `Observation/${item.item.toLowerCase()}-${id}/_history/${1 + (id % 3)}`,
    audit: { user: status === 'auto' ? 'trialbridge' : 'dora', at: `${spec.date}T12:00:00Z`, reason: null, ...spec.audit },
  };
}

/** A plausible number with the item's decimals (0.1 + ... so some need padding or rounding). */
function sample(item: ExportItem, id: number): number {
  const raw = 1 + (id % 97) * 1.37 + 0.1 + 0.2;
  const f = 10 ** item.decimals;
  return Math.round(raw * f) / f;
}

export function allItems(study: ExportStudy): ExportItem[] {
  return study.forms.flatMap((f) => f.items);
}

export function findItem(study: ExportStudy, pred: (i: ExportItem) => boolean): ExportItem {
  const item = allItems(study).find(pred);
  if (!item) throw new Error('no such item in this study');
  return item;
}

/**
 * A dataset exercising every ODM feature on the trial's real study: every item at the
 * first two scheduled visits (auto), an accepted and a corrected value (with reason),
 * UNS values on two dates, a coded HBsAg, a date-only sample, visit and whole-CRF
 * signatures, a subject without values.
 */
export function richDataset(key: string): ExportDataset {
  const study = studyOf(key);
  const scheduled = study.visits.filter((v) => v.kind !== 'unscheduled');
  const items = allItems(study);
  const values: ExportValue[] = [];
  scheduled.slice(0, 2).forEach((v, n) => {
    for (const item of items) values.push(valueOf(item, { subject: 'S-001', visit: v.code, date: `2024-03-0${4 + n}` }));
  });
  const tbil = findItem(study, (i) => i.item === 'TBIL');
  const hbsag = findItem(study, (i) => i.codeList !== null);
  const first = scheduled[0].code;
  values.push(valueOf(tbil, { subject: 'S-002', site: 'site-b', visit: first, date: '2024-04-01', value: 20.5, status: 'accepted', audit: { user: 'dora', at: '2024-04-02T09:00:00Z' } }));
  values.push(valueOf(tbil, { subject: 'S-002', site: 'site-b', visit: first, date: '2024-04-01', time: '18:00:00', value: 3, status: 'corrected', audit: { user: 'dora', at: '2024-04-02T09:05:00Z', reason: 'transcription: wrong unit at the site lab' } }));
  values.push(valueOf(hbsag, { subject: 'S-002', site: 'site-b', visit: first, date: '2024-04-01', value: 'POS', status: 'accepted', audit: { user: 'dora', at: '2024-04-02T09:06:00Z' } }));
  values.push(valueOf(tbil, { subject: 'S-001', visit: 'UNS', date: '2024-06-10', value: 30.1 }));
  values.push(valueOf(tbil, { subject: 'S-001', visit: 'UNS', date: '2024-06-17', value: 31.2 }));
  values.push(valueOf(hbsag, { subject: 'S-001', visit: 'UNS', date: '2024-06-17', value: 'NEG' }));
  values.push(valueOf(tbil, { subject: 'S-001', visit: 'UNS', date: '2024-06-20', dateOnly: true, value: 29 }));
  const signatures: ExportSignature[] = [
    { id: 1, subject: 'S-001', site: 'site-a', visit: first, signer: 'ivan', printedName: 'Ivan Investigator', meaning: 'reviewed and approved', at: '2024-03-10T10:00:00Z' },
    { id: 2, subject: 'S-002', site: 'site-b', visit: null, signer: 'ivan', printedName: 'Ivan Investigator', meaning: 'approved', at: '2024-04-05T10:00:00Z' },
  ];
  if (scheduled.length > 2) signatures.push({ id: 3, subject: 'S-003', site: 'site-a', visit: scheduled[2].code, signer: 'ivan', printedName: 'Ivan Investigator', meaning: 'reviewed', at: '2024-05-01T10:00:00Z' });
  return {
    study,
    sites: SITES.map((s) => ({ ...s })),
    users: USERS,
    subjects: [
      { subject: 'S-001', site: 'site-a', arm: study.arms[0]?.id ?? null, status: 'on-study', day0: '2024-03-05' },
      { subject: 'S-002', site: 'site-b', arm: null, status: 'on-study', day0: null },
      { subject: 'S-003', site: 'site-a', arm: null, status: 'candidate', day0: null },
    ],
    values,
    administrations: [],
    signatures,
    asOf: '2024-07-01T00:00:00Z',
  };
}

export const FILE = { fileOid: 'EXP-7', priorFileOid: null, creationDateTime: '2024-07-01T00:00:05Z', sourceSystemVersion: '0.1.0' } as const;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'odm-test-'));
let fileNo = 0;

/** Writes the XML to a temp file and validates it with xmllint against the ODM 1.3.2 XSD: null when valid, else xmllint's complaint. */
export function schemaErrors(xml: string, name = 'odm'): string | null {
  const file = path.join(tmp, `${name}-${++fileNo}.xml`);
  fs.writeFileSync(file, xml);
  try {
    execFileSync('xmllint', ['--noout', '--schema', ODM_XSD, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    return null;
  } catch (e) {
    const err = e as { stderr?: Buffer; status?: number };
    return `${err.stderr?.toString() ?? ''} (exit ${err.status})`;
  }
}

const REPEATING = new Set([
  'MeasurementUnit', 'StudyEventRef', 'StudyEventDef', 'FormRef', 'FormDef', 'ItemGroupRef', 'ItemGroupDef', 'ItemRef', 'ItemDef', 'CodeList', 'CodeListItem', 'Alias',
  'User', 'Location', 'SignatureDef', 'SubjectData', 'StudyEventData', 'FormData', 'ItemGroupData', 'ItemData', 'MeasurementUnitRef', 'TranslatedText',
]);

/** A parsed element: the tests check the fields they read. */
export type Node = Record<string, any>;

/** Parses an ODM file back (fast-xml-parser; attributes as `@Name`, text as `#text`, repeating elements always arrays). */
export function parseOdm(xml: string): Node {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, parseAttributeValue: false, trimValues: true, htmlEntities: true, isArray: (name, jpath) => REPEATING.has(name) || String(jpath).endsWith('User.LocationRef') });
  return parser.parse(xml).ODM as Node;
}

/** One ItemData as read back, with its keys, unit symbol and audit record resolved through the file's own definitions. */
export interface ReadItem {
  readonly subject: string;
  readonly subjectTransaction: string | undefined;
  readonly site: string;
  readonly event: string;
  readonly eventRepeat: string | undefined;
  readonly containerTransactions: readonly (string | undefined)[];
  readonly form: string;
  readonly group: string;
  readonly item: string;
  readonly transaction: string | undefined;
  readonly value: string | undefined;
  readonly unit: string | undefined;
  readonly user: string;
  readonly userName: string;
  readonly location: string;
  readonly at: string;
  readonly reason: string | undefined;
  readonly source: string;
  readonly editPoint: string | undefined;
}

const text = (n: unknown): string => (typeof n === 'string' ? n : (n as Node)['#text']);

export function readItems(odm: Node): ReadItem[] {
  const units = new Map<string, string>((odm.Study.BasicDefinitions?.MeasurementUnit ?? []).map((m: Node) => [m['@OID'], text(m.Symbol.TranslatedText[0])]));
  const users = new Map<string, Node>((odm.AdminData.User ?? []).map((u: Node) => [u['@OID'], u]));
  const locations = new Map<string, string>((odm.AdminData.Location ?? []).map((l: Node) => [l['@OID'], l['@Name']]));
  const out: ReadItem[] = [];
  for (const s of odm.ClinicalData.SubjectData ?? []) {
    for (const e of s.StudyEventData ?? []) {
      for (const f of e.FormData ?? []) {
        for (const g of f.ItemGroupData ?? []) {
          for (const i of g.ItemData ?? []) {
            const a = i.AuditRecord;
            const user = users.get(a.UserRef['@UserOID']);
            if (!user) throw new Error(`UserRef ${a.UserRef['@UserOID']} has no User`);
            const unitRef = i.MeasurementUnitRef?.[0]?.['@MeasurementUnitOID'];
            if (unitRef !== undefined && !units.has(unitRef)) throw new Error(`MeasurementUnitRef ${unitRef} has no MeasurementUnit`);
            const location = locations.get(a.LocationRef['@LocationOID']);
            if (location === undefined) throw new Error(`LocationRef ${a.LocationRef['@LocationOID']} has no Location`);
            out.push({
              subject: s['@SubjectKey'],
              subjectTransaction: s['@TransactionType'],
              site: locations.get(s.SiteRef['@LocationOID'])!,
              event: e['@StudyEventOID'],
              eventRepeat: e['@StudyEventRepeatKey'],
              containerTransactions: [e['@TransactionType'], f['@TransactionType'], g['@TransactionType']],
              form: f['@FormOID'],
              group: g['@ItemGroupRepeatKey'],
              item: i['@ItemOID'],
              transaction: i['@TransactionType'],
              value: i['@Value'],
              unit: unitRef === undefined ? undefined : units.get(unitRef),
              user: text(user.LoginName),
              userName: text(user.FullName),
              location,
              at: text(a.DateTimeStamp),
              reason: a.ReasonForChange === undefined ? undefined : text(a.ReasonForChange),
              source: text(a.SourceID),
              editPoint: a['@EditPoint'],
            });
          }
        }
      }
    }
  }
  return out;
}
