/**
 * The ODM 1.3.2 writer on the four shipped trials: every file validates against the
 * official XSD with xmllint (and a broken copy does not, so the check is real), and
 * reading a file back finds every value, unit, source, audit user, reason and key.
 */
import { odmSnapshot, odmTransactional, OdmWriteError } from '.';
import type { ExportDataset, ExportValue, ValueChange } from '../model';
import { FILE, findItem, parseOdm, readItems, richDataset, schemaErrors, studyOf, TRIAL_KEYS, valueOf, type ReadItem } from './test-support';

const snapshot = (ds: ExportDataset): string => [...odmSnapshot(ds, FILE)].join('');
const transactional = (ds: ExportDataset, changes: readonly ValueChange[]): string => [...odmTransactional(ds, changes, { ...FILE, fileOid: 'EXP-8', priorFileOid: 'EXP-7' })].join('');

/** What reading the file back must find for a value. */
function expected(ds: ExportDataset, v: ExportValue): Partial<ReadItem> {
  const item = ds.study.forms.find((f) => f.form === v.form)!.items.find((i) => i.item === v.item)!;
  return {
    subject: v.subject,
    site: v.site,
    event: `SE.${v.visit}`,
    eventRepeat: v.visit === 'UNS' ? v.visitRepeat : undefined,
    form: `F.${v.form}`,
    group: v.localDateTime,
    item: `IT.${v.form}.${v.item}`,
    value: typeof v.value === 'number' ? v.value.toFixed(item.decimals) : v.value,
    unit: item.dataType === 'text' ? undefined : (item.unit ?? undefined),
    user: v.audit.user,
    location: v.site,
    at: v.audit.at,
    reason: v.audit.reason ?? undefined,
    source: v.source,
  };
}

const pick = (r: ReadItem, keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, r[k as keyof ReadItem]]));

/** A transactional change set on the rich dataset: insert, update (correction), remove (rejected), remove + insert at one key. */
function changesOf(ds: ExportDataset): ValueChange[] {
  const [first, second] = ds.values;
  const tbil = findItem(ds.study, (i) => i.item === 'TBIL');
  const moved = valueOf(tbil, { subject: 'S-009', site: 'site-b', visit: 'UNS', date: '2024-06-30', value: 12, status: 'accepted', audit: { user: 'dora', at: '2024-06-30T10:00:00Z' } });
  const replacement = { ...moved, id: moved.id + 10_000, value: 13, source: 'Observation/tbil-new/_history/1' };
  return [
    { kind: 'insert', value: ds.values[ds.values.length - 1] },
    { kind: 'update', value: { ...first, value: typeof first.value === 'number' ? first.value + 1 : first.value, status: 'corrected', audit: { user: 'dora', at: '2024-06-29T08:00:00Z', reason: 'source-error: lab re-issued the result' } } },
    { kind: 'remove', value: { ...second, status: 'rejected', audit: { user: 'dora', at: '2024-06-29T08:01:00Z', reason: null } } },
    { kind: 'insert', value: replacement },
    { kind: 'remove', value: { ...moved, status: 'superseded', audit: { user: 'trialbridge', at: '2024-06-30T11:00:00Z', reason: null } } },
    // The copy last sent of a value that left the selection: its audit is the old one.
    { kind: 'remove', value: { ...ds.values[2], status: 'corrected', audit: { user: 'dora', at: '2024-03-20T08:00:00Z', reason: 'transcription: old correction' } } },
  ];
}

describe.each(TRIAL_KEYS)('%s', (key) => {
  const ds = richDataset(key);

  test('the snapshot is valid ODM 1.3.2 (xmllint, official XSD)', () => {
    expect(schemaErrors(snapshot(ds), `${key}-snapshot`)).toBeNull();
  });

  test('the transactional file is valid ODM 1.3.2 (xmllint, official XSD)', () => {
    expect(schemaErrors(transactional(ds, changesOf(ds)), `${key}-transactional`)).toBeNull();
  });

  test('snapshot round trip: every value with its keys, unit symbol, audit user, site, time, reason and SourceID', () => {
    const odm = parseOdm(snapshot(ds));
    const items = readItems(odm);
    expect(items).toHaveLength(ds.values.length);
    const keys = Object.keys(expected(ds, ds.values[0]));
    for (const v of ds.values) {
      const found = items.filter((r) => r.source === v.source);
      expect(found).toHaveLength(1);
      expect(pick(found[0], keys)).toEqual(expected(ds, v));
    }
    // No TransactionType anywhere in a snapshot (ODM 1.3.2: absent or Insert).
    expect(items.every((r) => r.subjectTransaction === undefined && r.transaction === undefined && r.containerTransactions.every((t) => t === undefined))).toBe(true);
    expect(odm['@FileType']).toBe('Snapshot');
    expect(odm['@PriorFileOID']).toBeUndefined();
  });

  test('metadata from the trial and CRF files: visits, items with units, LOINC aliases and code lists', () => {
    const odm = parseOdm(snapshot(ds));
    const study = studyOf(key);
    expect(odm.Study['@OID']).toBe(key);
    expect(odm.Study.GlobalVariables.ProtocolName).toBe(study.registryId ?? key);
    const mdv = odm.Study.MetaDataVersion;
    expect(mdv.StudyEventDef.map((e: { '@OID': string }) => e['@OID'])).toEqual(study.visits.map((v) => `SE.${v.code}`));
    const uns = mdv.StudyEventDef.find((e: { '@OID': string }) => e['@OID'] === 'SE.UNS');
    expect([uns['@Repeating'], uns['@Type']]).toEqual(['Yes', 'Unscheduled']);
    const units = new Map<string, string>(odm.Study.BasicDefinitions.MeasurementUnit.map((m: { '@OID': string; '@Name': string }) => [m['@OID'], m['@Name']]));
    for (const item of study.forms.flatMap((f) => f.items)) {
      const def = mdv.ItemDef.find((d: { '@OID': string }) => d['@OID'] === `IT.${item.form}.${item.item}`);
      expect(def['@DataType']).toBe(item.dataType);
      expect(def['@SignificantDigits']).toBe(item.dataType === 'float' ? String(item.decimals) : undefined);
      expect(def.Question.TranslatedText[0]['#text']).toBe(item.label);
      expect(def.MeasurementUnitRef?.map((m: { '@MeasurementUnitOID': string }) => units.get(m['@MeasurementUnitOID']))).toEqual(item.unit === null ? undefined : [item.unit]);
      expect(def.Alias.map((a: { '@Name': string }) => a['@Name'])).toEqual(item.loinc.map((l) => l.code));
      expect(def.Alias[0]['@Context']).toBe('LOINC');
      if (item.codeList) {
        const list = mdv.CodeList.find((c: { '@OID': string }) => c['@OID'] === def.CodeListRef['@CodeListOID']);
        expect(list.CodeListItem.map((c: { '@CodedValue': string; Decode: { TranslatedText: { '#text': string }[] } }) => [c['@CodedValue'], c.Decode.TranslatedText[0]['#text']])).toEqual(item.codeList.map((c) => [c.code, c.decode]));
      }
    }
  });

  test('transactional: Insert / Update / Remove per ItemData, Remove without a value, Upsert containers, PriorFileOID', () => {
    const changes = changesOf(ds);
    const odm = parseOdm(transactional(ds, changes));
    expect([odm['@FileType'], odm['@FileOID'], odm['@PriorFileOID']]).toEqual(['Transactional', 'EXP-8', 'EXP-7']);
    const items = readItems(odm);
    expect(items.map((r) => [r.source, r.transaction])).toEqual(
      expect.arrayContaining([
        [changes[0].value.source, 'Insert'],
        [changes[1].value.source, 'Update'],
        [changes[2].value.source, 'Remove'],
        [changes[3].value.source, 'Insert'],
        [changes[4].value.source, 'Remove'],
        [changes[5].value.source, 'Remove'],
      ]),
    );
    expect(items).toHaveLength(changes.length);
    for (const r of items) {
      expect(r.subjectTransaction).toBe('Upsert');
      expect(r.containerTransactions).toEqual(['Upsert', 'Upsert', 'Upsert']);
    }
    const byTx = (source: string) => items.find((r) => r.source === source)!;
    const update = byTx(changes[1].value.source);
    expect(pick(update, ['value', 'user', 'reason', 'editPoint'])).toEqual({ ...pick(expected(ds, changes[1].value) as ReadItem, ['value', 'user', 'reason']), editPoint: 'DataManagement' });
    const rejected = byTx(changes[2].value.source);
    expect([rejected.value, rejected.unit, rejected.reason, rejected.user]).toEqual([undefined, undefined, 'Rejected in data review', 'dora']);
    const superseded = byTx(changes[4].value.source);
    expect([superseded.value, superseded.reason, superseded.user]).toEqual([undefined, 'Superseded by a newer version of the source record', 'trialbridge']);
    const left = byTx(changes[5].value.source);
    expect([left.transaction, left.value, left.user, left.at, left.reason, left.editPoint]).toEqual(['Remove', undefined, 'trialbridge', ds.asOf, 'No longer at this visit or sample time, or no longer selected for export', undefined]);
    // At one key the Remove comes first, then the Insert that replaces it (document order is processing order).
    const atKey = items.filter((r) => r.subject === 'S-009');
    expect(atKey.map((r) => [r.transaction, r.value])).toEqual([['Remove', undefined], ['Insert', (13).toFixed(findItem(ds.study, (i) => i.item === 'TBIL').decimals)]]);
    // Only subjects with changes: S-003 (a signature, no value) is not in the changes file.
    expect(odm.ClinicalData.SubjectData.map((s: { '@SubjectKey': string }) => s['@SubjectKey'])).toEqual(['S-001', 'S-009']);
  });
});

describe('values as the CRF stores them', () => {
  const ds = richDataset('NCT02812121');

  test.each<[string, number | string, string]>([
    ['TBIL', 20.5, '20.5'],
    ['TBIL', 3, '3.0'],
    ['TBIL', 0.30000000000000004, '0.3'],
    ['INR', 1, '1.00'],
    ['INR', 1.5, '1.50'],
    ['PLT', 120, '120'],
    ['HBSAG', 'POS', 'POS'],
  ])('%s %p is written %p', (item, value, text) => {
    const v = valueOf(findItem(ds.study, (i) => i.item === item), { subject: 'S-100', visit: 'SCR', date: '2024-02-01', value });
    const items = readItems(parseOdm(snapshot({ ...ds, values: [v] })));
    expect(items.map((r) => r.value)).toEqual([text]);
  });
});

describe('keys and signatures', () => {
  const ds = richDataset('NCT05985863');
  const odm = parseOdm(snapshot(ds));
  const subject = (key: string) => odm.ClinicalData.SubjectData.find((s: { '@SubjectKey': string }) => s['@SubjectKey'] === key);

  test('UNS values on two dates are two repeats of the unscheduled event, keyed by the site-local date; a date-only sample keys its group by the date', () => {
    const uns = subject('S-001').StudyEventData.filter((e: { '@StudyEventOID': string }) => e['@StudyEventOID'] === 'SE.UNS');
    expect(uns.map((e: { '@StudyEventRepeatKey': string }) => e['@StudyEventRepeatKey'])).toEqual(['2024-06-10', '2024-06-17', '2024-06-20']);
    expect(uns[2].FormData[0].ItemGroupData[0]['@ItemGroupRepeatKey']).toBe('2024-06-20');
    // Scheduled (non-repeating) events carry no repeat key (ODM 1.3.2: present iff the StudyEventDef repeats).
    expect(subject('S-001').StudyEventData.filter((e: { '@StudyEventOID': string }) => e['@StudyEventOID'] !== 'SE.UNS').every((e: Record<string, unknown>) => !('@StudyEventRepeatKey' in e))).toBe(true);
  });

  test('two samples of one visit are two repeats of the item group, keyed by the sample time', () => {
    const groups = subject('S-002').StudyEventData[0].FormData[0].ItemGroupData;
    expect(groups.map((g: { '@ItemGroupRepeatKey': string }) => g['@ItemGroupRepeatKey'])).toEqual(['2024-04-01T07:30:00+01:00', '2024-04-01T18:00:00+01:00']);
  });

  test('a visit signature on its StudyEventData, a whole-CRF signature on SubjectData, a signed visit without values still listed', () => {
    const scr = subject('S-001').StudyEventData[0];
    expect(scr['@StudyEventOID']).toBe('SE.SCR');
    expect(scr.Signature).toEqual({ UserRef: { '@UserOID': 'USR.ivan' }, LocationRef: { '@LocationOID': 'LOC.site-a' }, SignatureRef: { '@SignatureOID': 'SD.reviewed_and_approved' }, DateTimeStamp: '2024-03-10T10:00:00Z' });
    expect(subject('S-002').Signature.SignatureRef['@SignatureOID']).toBe('SD.approved');
    expect(subject('S-003').StudyEventData).toEqual([expect.objectContaining({ '@StudyEventOID': 'SE.W1', Signature: expect.objectContaining({ DateTimeStamp: '2024-05-01T10:00:00Z' }) })]);
    const defs = odm.AdminData.SignatureDef.map((d: { '@OID': string; '@Methodology': string; Meaning: string; LegalReason: string }) => [d['@OID'], d['@Methodology'], d.Meaning, /21 CFR Part 11/.test(d.LegalReason)]);
    expect(defs).toEqual([
      ['SD.approved', 'Electronic', 'approved', true],
      ['SD.reviewed', 'Electronic', 'reviewed', true],
      ['SD.reviewed_and_approved', 'Electronic', 'reviewed and approved', true],
    ]);
  });

  test('the latest of two signatures of one visit stands; an unscheduled-event signature is on each of its repeats', () => {
    const later = { ...ds.signatures[0], id: 9, meaning: 'reviewed', at: '2024-03-11T10:00:00Z' };
    const uns = { ...ds.signatures[0], id: 10, visit: 'UNS', at: '2024-06-21T10:00:00Z' };
    const again = parseOdm(snapshot({ ...ds, signatures: [later, ...ds.signatures, uns] }));
    const events = again.ClinicalData.SubjectData[0].StudyEventData;
    expect(events[0].Signature.DateTimeStamp).toBe('2024-03-11T10:00:00Z');
    const unsSigned = events.filter((e: { '@StudyEventOID': string }) => e['@StudyEventOID'] === 'SE.UNS').map((e: { Signature?: { DateTimeStamp: string } }) => e.Signature?.DateTimeStamp);
    expect(unsSigned).toEqual(['2024-06-21T10:00:00Z', '2024-06-21T10:00:00Z', '2024-06-21T10:00:00Z']);
    expect(schemaErrors(snapshot({ ...ds, signatures: [later, ...ds.signatures, uns] }))).toBeNull();
  });

  test('users and sites: every UserRef and LocationRef resolves; users carry the sites they acted at', () => {
    const users = odm.AdminData.User.map((u: { '@OID': string; '@UserType': string; LoginName: string; FullName: string; LocationRef?: { '@LocationOID': string }[] }) => [u['@OID'], u['@UserType'], u.LoginName, u.FullName, (u.LocationRef ?? []).map((l) => l['@LocationOID'])]);
    expect(users).toEqual([
      ['USR.dora', 'Other', 'dora', 'Dora Data-Manager', ['LOC.site-b']],
      ['USR.ivan', 'Investigator', 'ivan', 'Ivan Investigator', ['LOC.site-a', 'LOC.site-b']],
      ['USR.trialbridge', 'Other', 'trialbridge', 'trialbridge', ['LOC.site-a', 'LOC.site-b']],
    ]);
    expect(odm.AdminData.Location.map((l: { '@OID': string; '@LocationType': string }) => [l['@OID'], l['@LocationType']])).toEqual([['LOC.site-a', 'Site'], ['LOC.site-b', 'Site']]);
    expect(readItems(odm).filter((r) => r.user === 'dora').every((r) => r.editPoint === 'DataManagement')).toBe(true);
    expect(readItems(odm).filter((r) => r.user === 'trialbridge').every((r) => r.editPoint === undefined)).toBe(true);
  });

  test('one ItemData per key: of two values at one key the reviewed one is written', () => {
    const v = ds.values[0];
    const reviewed = { ...v, id: 50_000, source: 'Observation/reviewed/_history/1', status: 'accepted' as const, audit: { user: 'dora', at: '2020-01-01T00:00:00Z', reason: null } };
    const items = readItems(parseOdm(snapshot({ ...ds, values: [v, reviewed] })));
    expect(items.map((r) => r.source)).toEqual(['Observation/reviewed/_history/1']);
  });
});

describe('the schema check is real', () => {
  const xml = snapshot(richDataset('NCT05985863'));

  test.each<[string, (s: string) => string, RegExp]>([
    ['AdminData before Study (element order)', (s) => s.replace(/(\s*<Study [\s\S]*<\/Study>)(\s*<AdminData[\s\S]*<\/AdminData>)/, '$2$1'), /AdminData/],
    ['ItemData without ItemOID (required attribute)', (s) => s.replace(/<ItemData ItemOID="[^"]*"/, '<ItemData'), /ItemOID/],
    ['two LOINC aliases in one ItemDef (identity constraint UC-ID-1)', (s) => s.replace('Context="LOINC 2"', 'Context="LOINC"'), /UC-ID-1|Duplicate key/],
    ['a TransactionType ODM does not define', (s) => s.replace('<SubjectData SubjectKey="S-001"', '<SubjectData SubjectKey="S-001" TransactionType="Replace"'), /TransactionType/],
  ])('a copy with %s is rejected', (_name, breakIt, message) => {
    const broken = breakIt(xml);
    expect(broken).not.toBe(xml);
    expect(schemaErrors(broken, 'broken')).toMatch(message);
  });
});

describe('escaping hostile strings', () => {
  const base = richDataset('NCT02812121');
  const hostile = `Eve <&"'> O'Hara\u0001\u0008`;
  const ds: ExportDataset = {
    ...base,
    users: [...base.users, { id: `e<v&e"'`, name: hostile, role: 'data-manager' }],
    values: base.values.map((v, i) => (i === 0 ? { ...v, status: 'corrected', source: 'Observation/a&b/_history/1', audit: { user: `e<v&e"'`, at: '2024-05-05T05:05:05Z', reason: `transcription: <b>"x" & 'y'</b>\r\n\tline 2\u0000` } } : v)),
    study: { ...base.study, summary: `Phase 2 & "quoted" <summary> ]]>` },
  };
  const xml = snapshot(ds);

  test('the file is still valid ODM and reads back to the same strings, less the characters XML cannot carry', () => {
    expect(schemaErrors(xml, 'hostile')).toBeNull();
    const odm = parseOdm(xml);
    const user = odm.AdminData.User.find((u: { LoginName: string }) => u.LoginName === `e<v&e"'`);
    expect(user.FullName).toBe(`Eve <&"'> O'Hara`);
    expect(odm.Study.GlobalVariables.StudyDescription).toBe(`Phase 2 & "quoted" <summary> ]]>`);
    const first = readItems(odm).find((r) => r.source === 'Observation/a&b/_history/1')!;
    expect([first.user, first.userName, first.reason]).toEqual([`e<v&e"'`, `Eve <&"'> O'Hara`, `transcription: <b>"x" & 'y'</b>\r\n\tline 2`]);
  });

  test('no raw markup from the data reaches the file', () => {
    expect(xml).not.toContain('<b>');
    expect(xml).not.toContain('O\'Hara\u0001');
    expect(xml).toContain('Eve &lt;&amp;"\'&gt; O\'Hara</FullName>');
    expect(xml).toMatch(/<UserRef UserOID="USR\.e_v_e"\/>/);
  });
});

describe('determinism and streaming', () => {
  const ds = richDataset('NCT05985863');

  test('the same dataset gives the same bytes, whatever the order of its lists', () => {
    const a = snapshot(ds);
    expect(snapshot(ds)).toBe(a);
    expect(snapshot({ ...ds, values: [...ds.values].reverse(), subjects: [...ds.subjects].reverse(), signatures: [...ds.signatures].reverse(), users: [...ds.users].reverse(), sites: [...ds.sites].reverse() })).toBe(a);
    const changes = changesOf(ds);
    expect(transactional(ds, [...changes].reverse())).toBe(transactional(ds, changes));
  });

  test('100 subjects x 2 years of weekly labs stream in bounded chunks, and the file is valid', () => {
    const study = studyOf('NCT05985863');
    const lab = study.forms.find((f) => f.form === 'LB')!.items;
    const values: ExportValue[] = [];
    const subjects = [];
    for (let s = 1; s <= 100; s++) {
      const subject = `S-${String(s).padStart(3, '0')}`;
      subjects.push({ subject, site: s % 2 ? 'site-a' : 'site-b', arm: null, status: 'on-study', day0: '2024-01-01' });
      for (let week = 0; week < 104; week++) {
        const date = new Date(Date.UTC(2024, 0, 1 + 7 * week)).toISOString().slice(0, 10);
        for (const item of lab) values.push(valueOf(item, { subject, site: s % 2 ? 'site-a' : 'site-b', visit: 'UNS', date }));
      }
    }
    expect(values.length).toBeGreaterThanOrEqual(180_000);
    const big = { ...ds, study, subjects, values, signatures: [] };
    const chunks = [...odmSnapshot(big, FILE)];
    expect(chunks.length).toBeGreaterThan(100);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThan(128 * 1024);
    const xml = chunks.join('');
    // Counted, not parsed: a DOM of this file is what streaming avoids.
    expect(xml.match(/<ItemData ItemOID=/g)).toHaveLength(values.length);
    expect(xml.match(/<SubjectData /g)).toHaveLength(100);
    expect(schemaErrors(xml, 'big')).toBeNull();
  }, 120_000);
});

describe('a dataset that cannot be written fails before the first chunk', () => {
  const ds = richDataset('NCT02812121');
  const bad = (change: Partial<ExportValue>): ExportDataset => ({ ...ds, values: [...ds.values, { ...ds.values[0], ...change }] });

  test.each<[string, Partial<ExportValue>, RegExp]>([
    ['an item the CRF does not define', { item: 'NOPE' }, /item the trial's CRF does not define/],
    ['a visit the trial does not define', { visit: 'W99' }, /visit W99/],
    ['a unit other than the CRF unit', { unit: 'mg/dL' }, /CRF unit/],
    ['a number that is not finite', { value: Number.NaN }, /finite number/],
    ['a number as text', { value: '12.5' }, /finite number/],
    ['an audit time that is not a date-time', { audit: { user: 'dora', at: '2024-03-04 12:00', reason: null } }, /audit time/],
  ])('%s', (_name, change, message) => {
    const it = odmSnapshot(bad(change), FILE)[Symbol.iterator]();
    expect(() => it.next()).toThrow(OdmWriteError);
    expect(() => odmSnapshot(bad(change), FILE)[Symbol.iterator]().next()).toThrow(message);
  });

  test('a CreationDateTime that is not a date-time', () => {
    expect(() => [...odmSnapshot(ds, { ...FILE, creationDateTime: 'yesterday' })]).toThrow(/CreationDateTime/);
  });

  test('a code outside the code list', () => {
    const hbsag = findItem(ds.study, (i) => i.codeList !== null);
    const v = valueOf(hbsag, { subject: 'S-001', visit: 'SCR', date: '2024-03-04', value: 'MAYBE' });
    expect(() => [...odmTransactional(ds, [{ kind: 'insert', value: v }], FILE)]).toThrow(/not a code of the item's code list/);
  });
});
