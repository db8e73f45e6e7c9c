import { strFromU8, unzipSync } from 'fflate';
import { csvObjects, dataset, parseCsv, shippedStudy, subject, value } from './csv-test-support';
import type { ExportStudy } from './model';
import { redcapProject, redcapZip, REDCAP_FILE_KINDS } from './redcap';
import { DATA_DICTIONARY_COLUMNS } from './redcap-dictionary';
import { uniqueEventName } from './redcap-names';

const SHIPPED = ['ESLD-UCMSC-DOSE', 'NCT02812121', 'NCT03945487', 'NCT05985863'];

/** The ESLD trial cut down to Screening, Week 1 and UNS, and two LB items (one numeric, one coded). */
function smallStudy(): ExportStudy {
  const study = shippedStudy('ESLD-UCMSC-DOSE');
  const lb = study.forms.find((f) => f.form === 'LB')!;
  return {
    ...study,
    visits: study.visits.filter((v) => ['SCR', 'W1', 'UNS'].includes(v.code)),
    forms: [{ ...lb, items: lb.items.filter((i) => i.item === 'TBIL' || i.item === 'HBSAG') }],
  };
}

function files(ds: Parameters<typeof redcapProject>[0]): Record<string, string> {
  return Object.fromEntries(redcapProject(ds).map((f) => [f.name.replace(/^.*_(\w+)\.csv$/, '$1'), f.content]));
}

const crlf = (lines: string[]) => lines.map((l) => `${l}\r\n`).join('');

describe('REDCap project of a small study, exact text', () => {
  const ds = dataset(smallStudy(), {
    subjects: [subject({ subject: '001', arm: 'low-dose', day0: '2024-03-01' }), subject({ subject: '002', site: 'site-b', status: 'candidate' })],
    values: [
      value({ subject: '001', visit: 'W1', item: 'TBIL', value: 23.46, localDateTime: '2024-03-08T07:30:00+08:00' }),
      value({ subject: '001', visit: 'W1', item: 'HBSAG', value: 'NEG', localDateTime: '2024-03-08T07:30:00+08:00', status: 'auto' }),
      value({ subject: '001', visit: 'W1', item: 'TBIL', value: 30, localDateTime: '2024-03-09T08:00:00+08:00' }),
      value({ subject: '002', visit: 'UNS', item: 'TBIL', value: 17.04, localDate: '2024-02-20', localDateTime: '2024-02-20' }),
    ],
  });
  const f = files(ds);

  test('file names are <trial>_<kind>.csv in import order', () => {
    expect(redcapProject(ds).map((x) => x.name)).toEqual(REDCAP_FILE_KINDS.map((k) => `ESLD-UCMSC-DOSE_${k}.csv`));
  });

  test('data dictionary', () => {
    expect(f.DataDictionary).toBe(crlf([
      'Variable / Field Name,Form Name,Section Header,Field Type,Field Label,"Choices, Calculations, OR Slider Labels",Field Note,Text Validation Type OR Show Slider Number,Text Validation Min,Text Validation Max,Identifier?,Branching Logic (Show field only if...),Required Field?,Custom Alignment,Question Number (surveys only),Matrix Group Name,Matrix Ranking?,Field Annotation',
      'record_id,trial_subject,,text,Subject number,,Trial subject number,,,,,,,,,,,',
      'subject_site,trial_subject,,text,Site,,,,,,,,,,,,,',
      'subject_day0,trial_subject,,text,Study Day 0,,Site-local date,date_ymd,,,y,,,,,,,',
      'subject_status,trial_subject,,text,Subject status,,FHIR ResearchSubject.status,,,,,,,,,,,',
      'lb_sample_datetime,laboratory,,text,Sample date and time,,Site-local time; empty when the source gave only a date,datetime_seconds_ymd,,,y,,,,,,,',
      'lb_sample_date,laboratory,,text,Sample date,,Site-local date,date_ymd,,,y,,,,,,,',
      'lb_sample_offset,laboratory,,text,UTC offset of the sample time,,e.g. UTC+08:00; empty when the source gave only a date,,,,,,,,,,,',
      'lb_tbil,laboratory,,text,Total bilirubin (TBIL),,umol/L,number_1dp,,,,,,,,,,"LOINC: 1975-2, 14631-6, 42719-5, 54363-7"',
      'lb_hbsag,laboratory,,dropdown,Hepatitis B surface antigen (qualitative) (HBSAG),"NEG, Negative | POS, Positive",,,,,,,,,,,,"LOINC: 5196-1, 5195-3, 75410-1"',
    ]));
  });

  test('arms: the trial arms by label, then the arm of subjects without one', () => {
    expect(f.Arms).toBe(crlf([
      'arm_num,name',
      '1,Low dose: 1x10^6 cells/kg per infusion',
      '2,Medium-high dose: 3x10^6 cells/kg per infusion',
      '3,Not yet assigned',
    ]));
  });

  test('events: one per visit per arm, target day and window as offsets', () => {
    const perArm = (n: number) => [`Screening,${n},0,0,0`, `Week 1,${n},7,2,2`, `Unscheduled,${n},8,0,0`];
    expect(f.Events).toBe(crlf(['event_name,arm_num,day_offset,offset_min,offset_max', ...perArm(1), ...perArm(2), ...perArm(3)]));
  });

  test('instrument-event mapping: the subject instrument at Screening, the CRF instrument everywhere', () => {
    const perArm = (n: number) => [`${n},screening_arm_${n},trial_subject`, `${n},screening_arm_${n},laboratory`, `${n},week_1_arm_${n},laboratory`, `${n},unscheduled_arm_${n},laboratory`];
    expect(f.InstrumentEventMapping).toBe(crlf(['arm_num,unique_event_name,form', ...perArm(1), ...perArm(2), ...perArm(3)]));
  });

  test('repeating instruments: the CRF instrument repeats in every event, labelled by sample time', () => {
    const perArm = (n: number) => ['screening', 'week_1', 'unscheduled'].map((e) => `${e}_arm_${n},laboratory,[lb_sample_datetime]`);
    expect(f.RepeatingInstrumentsEvents).toBe(crlf(['event_name,form_name,custom_form_label', ...perArm(1), ...perArm(2), ...perArm(3)]));
  });

  test('records: a subject row, then one instance per draw; Complete only when every value is reviewed', () => {
    expect(f.Records).toBe(crlf([
      'record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,subject_site,subject_day0,subject_status,trial_subject_complete,lb_sample_datetime,lb_sample_date,lb_sample_offset,lb_tbil,lb_hbsag,laboratory_complete',
      '001,screening_arm_1,,,site-a,2024-03-01,on-study,2,,,,,,',
      '001,week_1_arm_1,laboratory,1,,,,,2024-03-08 07:30:00,2024-03-08,UTC+08:00,23.5,NEG,1',
      '001,week_1_arm_1,laboratory,2,,,,,2024-03-09 08:00:00,2024-03-09,UTC+08:00,30.0,,2',
      '002,screening_arm_3,,,site-b,,candidate,2,,,,,,',
      '002,unscheduled_arm_3,laboratory,1,,,,,,2024-02-20,,17.0,,2',
    ]));
  });
});

describe('REDCap project of every shipped trial', () => {
  test.each(SHIPPED)('%s: files that agree with each other', (key) => {
    const study = shippedStudy(key);
    const lbItems = study.forms.find((x) => x.form === 'LB')!.items;
    const values = lbItems.map((i, n) => value({ subject: 'S-1', visit: study.visits[n % study.visits.length].code, item: i.item, value: i.codeList ? i.codeList[0].code : 1 }));
    const f = files(dataset(study, { subjects: [subject({ subject: 'S-1', arm: study.arms[0].id })], values }));

    const dictionary = parseCsv(f.DataDictionary);
    expect(dictionary[0]).toEqual([...DATA_DICTIONARY_COLUMNS]);
    expect(dictionary[0]).toHaveLength(18);
    expect(dictionary[1].slice(0, 4)).toEqual(['record_id', 'trial_subject', '', 'text']);
    const names = dictionary.slice(1).map((r) => r[0]);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[a-z][a-z0-9_]{0,25}$/);
    for (const form of study.forms) for (const item of form.items) expect(names).toContain(`${form.form.toLowerCase()}_${item.item.toLowerCase()}`);
    const formsOfField = new Map(dictionary.slice(1).map((r) => [r[0], r[1]]));

    const events = csvObjects(f.Events);
    const arms = csvObjects(f.Arms);
    expect(arms.map((a) => a.arm_num)).toEqual(arms.map((_, i) => String(i + 1)));
    for (const a of arms) expect([...a.name].length).toBeLessThanOrEqual(50);
    const unique = events.map((e) => uniqueEventName(e.event_name, Number(e.arm_num)));
    expect(new Set(unique).size).toBe(unique.length);

    const mapping = csvObjects(f.InstrumentEventMapping);
    for (const m of mapping) expect(unique).toContain(m.unique_event_name);
    const mapped = new Set(mapping.map((m) => `${m.unique_event_name}|${m.form}`));
    for (const r of csvObjects(f.RepeatingInstrumentsEvents)) expect(mapped.has(`${r.event_name}|${r.form_name}`)).toBe(true);

    const records = csvObjects(f.Records);
    expect(records.filter((r) => r.redcap_repeat_instrument === '')).toHaveLength(1);
    for (const r of records) {
      const form = r.redcap_repeat_instrument || 'trial_subject';
      expect(mapped.has(`${r.redcap_event_name}|${form}`)).toBe(true);
      for (const [field, cell] of Object.entries(r)) {
        if (cell === '' || field.startsWith('redcap_') || field === 'record_id' || field.endsWith('_complete')) continue;
        expect(formsOfField.get(field)).toBe(form);
      }
    }
    expect(records.filter((r) => r.redcap_repeat_instrument === 'laboratory').map((r) => r.laboratory_complete).every((c) => c === '2')).toBe(true);
  });

  test('a blinded trial is one arm with every visit: no arm label, number or arm-only visit tells the randomised arm', () => {
    const f = files(dataset(shippedStudy('NCT05985863'), { subjects: [subject({ subject: 'S-1', arm: 'control' }), subject({ subject: 'S-2', arm: 'MSC' })] }));
    expect(f.Arms).toBe(crlf(['arm_num,name', '1,All subjects (blinded)']));
    expect(f.Arms).not.toMatch(/placebo|MSC|control/i);
    const events = csvObjects(f.Events);
    expect(new Set(events.map((e) => e.arm_num))).toEqual(new Set(['1']));
    expect(events.map((e) => e.event_name)).toContain('Week 5');
    expect(csvObjects(f.Records).filter((r) => !r.redcap_repeat_instrument).map((r) => r.redcap_event_name)).toEqual(['screening_arm_1', 'screening_arm_1']);
  });

  test('an open trial keeps its arm labels, and an arm-specific visit is an event only in the arms that have it (W5 of NCT02812121)', () => {
    const f = files(dataset(shippedStudy('NCT02812121')));
    expect(f.Arms).toBe(crlf(['arm_num,name', '1,MSC weekly x 8 (weeks 0-7)', '2,MSC weekly x 4 (weeks 0-3)', '3,Control: standard medical treatment only', '4,Not yet assigned']));
    expect(csvObjects(f.Events).filter((e) => e.event_name === 'Week 5').map((e) => e.arm_num)).toEqual(['1']);
    expect(files(dataset(shippedStudy('NCT03945487'))).Arms).toContain('2,Comprehensive treatment alone');
  });
});

describe('REDCap records: draws, UNS and placement', () => {
  const study = shippedStudy('NCT05985863');

  function records(values: ReturnType<typeof value>[], arm: string | null = 'control') {
    return csvObjects(files(dataset(study, { subjects: [subject({ subject: 'S-9', arm })], values })).Records).filter((r) => r.redcap_repeat_instrument);
  }

  test('UNS samples on different days and at different times of one day are instances in time order', () => {
    const rows = records([
      value({ subject: 'S-9', visit: 'UNS', item: 'ALT', value: 50, localDateTime: '2024-05-02T15:00:00+08:00' }),
      value({ subject: 'S-9', visit: 'UNS', item: 'ALT', value: 40, localDateTime: '2024-04-10T09:00:00+08:00' }),
      value({ subject: 'S-9', visit: 'UNS', item: 'ALT', value: 45, localDateTime: '2024-05-02T08:00:00+08:00' }),
      value({ subject: 'S-9', visit: 'UNS', item: 'AST', value: 33, localDateTime: '2024-05-02T08:00:00+08:00' }),
    ]);
    expect(rows.map((r) => [r.redcap_event_name, r.redcap_repeat_instance, r.lb_sample_datetime, r.lb_alt, r.lb_ast])).toEqual([
      ['unscheduled_arm_1', '1', '2024-04-10 09:00:00', '40', ''],
      ['unscheduled_arm_1', '2', '2024-05-02 08:00:00', '45', '33'],
      ['unscheduled_arm_1', '3', '2024-05-02 15:00:00', '50', ''],
    ]);
  });

  test('several draws in one visit window are instances of that visit, none dropped', () => {
    const rows = records([
      value({ subject: 'S-9', visit: 'W1', item: 'INR', value: 1.4, localDateTime: '2024-03-09T07:00:00+08:00' }),
      value({ subject: 'S-9', visit: 'W1', item: 'INR', value: 1.25, localDateTime: '2024-03-07T07:00:00+08:00' }),
    ]);
    expect(rows.map((r) => [r.redcap_event_name, r.redcap_repeat_instance, r.lb_inr])).toEqual([['week_1_arm_1', '1', '1.25'], ['week_1_arm_1', '2', '1.40']]);
  });

  test('two values of one item at the same time make two instances', () => {
    const at = '2024-03-07T07:00:00+08:00';
    const rows = records([value({ subject: 'S-9', visit: 'W1', item: 'NA', value: 135, localDateTime: at }), value({ subject: 'S-9', visit: 'W1', item: 'NA', value: 136, localDateTime: at })]);
    expect(rows.map((r) => r.lb_na)).toEqual(['135', '136']);
  });

  test('a visit the subject\'s arm lacks goes to that arm\'s Unscheduled event; a subject without an arm is in the last arm (open trial)', () => {
    const open = shippedStudy('NCT02812121');
    const rows = (arm: string | null) => csvObjects(files(dataset(open, { subjects: [subject({ subject: 'S-9', arm })], values: [value({ subject: 'S-9', visit: 'W5', item: 'ALB', value: 35.2 })] })).Records).filter((r) => r.redcap_repeat_instrument);
    expect(rows('control').map((r) => r.redcap_event_name)).toEqual(['unscheduled_arm_3']);
    expect(rows('MSC-1').map((r) => r.redcap_event_name)).toEqual(['week_5_arm_1']);
    expect(rows(null).map((r) => r.redcap_event_name)).toEqual(['unscheduled_arm_4']);
  });

  test('vital signs rows hold only their own instrument; an automatic value makes the row Unverified', () => {
    const rows = records([
      value({ subject: 'S-9', visit: 'W0', form: 'VS', item: 'WEIGHT', value: 62.5, status: 'auto' }),
      value({ subject: 'S-9', visit: 'W0', item: 'HBSAG', value: 'POS', status: 'corrected' }),
    ]);
    expect(rows.map((r) => [r.redcap_repeat_instrument, r.vs_weight, r.lb_hbsag, r.laboratory_complete, r.vital_signs_complete])).toEqual([
      ['laboratory', '', 'POS', '2', ''],
      ['vital_signs', '62.5', '', '', '1'],
    ]);
  });

  test('text from the sources cannot become a spreadsheet formula', () => {
    const text = files(dataset(study, { subjects: [subject({ subject: 'S-9', site: '@site', status: '=HYPERLINK("http://x","y")' })] })).Records;
    expect(text).toContain(`S-9,screening_arm_1,,,'@site,,"'=HYPERLINK(""http://x"",""y"")",2`);
    expect(csvObjects(text)[0].subject_status).toBe(`'=HYPERLINK("http://x","y")`);
  });
});

describe('redcapZip', () => {
  const ds = dataset(shippedStudy('NCT02812121'), {
    subjects: [subject({ subject: 'S-1', arm: 'MSC-1' })],
    values: [value({ subject: 'S-1', visit: 'W6', item: 'TBIL', value: 12.3 }), value({ subject: 'S-1', visit: 'SCR', item: 'PLT', value: 88 })],
  });

  test('holds the project files, byte for byte', () => {
    const entries = unzipSync(redcapZip(ds));
    expect(Object.keys(entries)).toEqual(REDCAP_FILE_KINDS.map((k) => `NCT02812121_${k}.csv`));
    for (const f of redcapProject(ds)) expect(strFromU8(entries[f.name])).toBe(f.content);
  });

  test('one dataset gives the same bytes, whatever the order of its values or the time zone of the process', () => {
    const first = redcapZip(ds);
    const reordered = redcapZip({ ...ds, values: [...ds.values].reverse() });
    const tz = process.env.TZ;
    try {
      process.env.TZ = 'America/Los_Angeles';
      const elsewhere = redcapZip(ds);
      expect(Buffer.from(elsewhere).equals(Buffer.from(first))).toBe(true);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
    expect(Buffer.from(reordered).equals(Buffer.from(first))).toBe(true);
    expect(Buffer.from(redcapZip({ ...ds, asOf: '2024-03-07T00:00:00.000Z' })).equals(Buffer.from(first))).toBe(false);
  });
});
