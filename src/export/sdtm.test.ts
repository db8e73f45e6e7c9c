import { administration, csvObjects, dataset, parseCsv, shippedStudy, subject, value } from './csv-test-support';
import { EX_COLUMNS, exCsv, LB_COLUMNS, lbCsv, lbNrind, studyDay } from './sdtm';
import { csvField } from '../util/csv';

const crlf = (lines: string[]) => lines.map((l) => `${l}\r\n`).join('');

describe('LB', () => {
  const study = shippedStudy('NCT05985863');
  const ds = dataset(study, {
    subjects: [subject({ subject: '101', arm: 'MSC', day0: '2024-03-01' })],
    values: [
      value({ subject: '101', visit: 'W1', item: 'TBIL', value: 1.17, unit: 'mg/dL', originalValue: 20, originalUnit: 'umol/L', interpretation: 'H', localDateTime: '2024-03-08T07:30:00+08:00' }),
      value({ subject: '101', visit: 'SCR', item: 'HBSAG', value: 'NEG', originalValue: 'Negative', loinc: '5196-1', localDateTime: '2024-02-27T08:00:00+08:00', interpretation: 'N' }),
      value({ subject: '101', visit: 'UNS', item: 'PLT', value: 88, unit: '10*9/L', originalValue: 88, originalUnit: '10*3/uL', loinc: '777-3', interpretation: 'LL', localDate: '2024-04-20', localDateTime: '2024-04-20' }),
      value({ subject: '101', visit: 'W1', form: 'VS', item: 'WEIGHT', value: 62.5, unit: 'kg', loinc: '29463-7' }),
    ],
  });

  test('exact text of a small case: header, SDTMIG order, per-subject LBSEQ, only the LB form', () => {
    expect(lbCsv(ds)).toBe(crlf([
      'STUDYID,DOMAIN,USUBJID,LBSEQ,LBTESTCD,LBTEST,LBORRES,LBORRESU,LBSTRESC,LBSTRESN,LBSTRESU,LBNRIND,LBLOINC,VISITNUM,VISIT,LBDTC,LBDY',
      'NCT05985863,LB,NCT05985863-site-a-101,1,HBSAG,Hepatitis B surface antigen (qualitative),Negative,,NEGATIVE,,,NORMAL,5196-1,1,Screening,2024-02-27T08:00:00+08:00,-3',
      'NCT05985863,LB,NCT05985863-site-a-101,2,TBIL,Total bilirubin,20,umol/L,1.17,1.17,mg/dL,HIGH,1975-2,3,Week 1,2024-03-08T07:30:00+08:00,8',
      'NCT05985863,LB,NCT05985863-site-a-101,3,PLT,Platelets,88,10*3/uL,88,88,10*9/L,LOW,777-3,99,Unscheduled,2024-04-20,51',
    ]));
  });

  test('reads back as RFC 4180 with every row as wide as the header', () => {
    const rows = parseCsv(lbCsv(ds));
    expect(rows[0]).toEqual([...LB_COLUMNS]);
    for (const r of rows) expect(r).toHaveLength(LB_COLUMNS.length);
  });

  test.each([
    ['N', 'NORMAL'], ['H', 'HIGH'], ['HH', 'HIGH'], ['HU', 'HIGH'], ['L', 'LOW'], ['LL', 'LOW'], ['LU', 'LOW'],
    ['A', 'ABNORMAL'], ['AA', 'ABNORMAL'], ['POS', ''], ['IND', ''], ['<', ''], [null, ''],
  ])('interpretation %p -> LBNRIND %p', (code, nrind) => {
    expect(lbNrind(code)).toBe(nrind);
    const row = csvObjects(lbCsv(dataset(study, { values: [value({ subject: '1', visit: 'W0', item: 'ALT', value: 40, interpretation: code })] })))[0];
    expect(row.LBNRIND).toBe(nrind);
  });

  test('study day: Study Day 0 is day 1, there is no day 0, no Day 0 gives no LBDY', () => {
    expect(csvField(studyDay('2024-03-01', '2024-03-01'))).toBe('1');
    expect(csvField(studyDay('2024-03-01', '2024-03-02'))).toBe('2');
    expect(csvField(studyDay('2024-03-01', '2024-02-29'))).toBe('-1');
    expect(studyDay(null, '2024-03-01')).toBe('');
  });

  test('numbers keep the CRF decimals and their sign; text from the source cannot become a formula', () => {
    const rows = csvObjects(lbCsv(dataset(study, {
      values: [
        value({ subject: '1', visit: 'W0', item: 'INR', value: 1.2, originalValue: -0.5 }),
        value({ subject: '1', visit: 'W0', item: 'HBSAG', value: 'POS', originalValue: '=cmd|/C calc!A0', originalUnit: '@unit' }),
        value({ subject: '1', visit: 'W0', item: 'ALB', value: '-0.25' as unknown as number }),
      ],
    })));
    const by = (code: string) => rows.find((r) => r.LBTESTCD === code)!;
    expect([by('INR').LBSTRESC, by('INR').LBSTRESN, by('INR').LBORRES]).toEqual(['1.20', '1.20', '-0.5']);
    expect([by('HBSAG').LBSTRESC, by('HBSAG').LBSTRESN, by('HBSAG').LBORRES, by('HBSAG').LBORRESU]).toEqual(['POSITIVE', '', "'=cmd|/C calc!A0", "'@unit"]);
    // A numeral stored as text is still a number of a numeric item.
    expect([by('ALB').LBSTRESC, by('ALB').LBSTRESN]).toEqual(['-0.3', '-0.3']);
  });

  test('the same dataset in another order gives the same text', () => {
    expect(lbCsv({ ...ds, values: [...ds.values].reverse() })).toBe(lbCsv(ds));
  });
});

describe('EX', () => {
  test('exact text: blinded EXTRT for NCT05985863, never the arm; only administrations given in full or in part', () => {
    const study = shippedStudy('NCT05985863');
    const ds = dataset(study, {
      subjects: [subject({ subject: '101', arm: 'control', day0: '2024-03-01' }), subject({ subject: '102', arm: 'MSC-short', day0: '2024-03-02' })],
      administrations: [
        administration({ subject: '102', visit: 'W0', start: '2024-03-02T09:00:00+08:00', dose: 60000000 }),
        administration({ subject: '101', visit: 'W1', start: '2024-03-08T10:15:00+08:00', state: 'partial', dose: 30000000, adjustment: 'Infusion stopped: reaction' }),
        administration({ subject: '101', visit: 'W0', start: '2024-03-01T09:30:00+08:00' }),
        administration({ subject: '101', visit: 'W2', start: '2024-03-15T09:00:00+08:00', state: 'not-done', dose: null }),
        administration({ subject: '102', visit: 'W1', start: '2024-03-09T09:00:00+08:00', state: 'needs-review' }),
        administration({ subject: '102', visit: 'UNS', start: '2024-03-20T14:00:00+08:00', dose: null, doseUnit: null }),
      ],
    });
    const text = exCsv(ds);
    expect(text).toBe(crlf([
      'STUDYID,DOMAIN,USUBJID,EXSEQ,EXTRT,EXDOSE,EXDOSU,EXADJ,VISITNUM,VISIT,EXSTDTC,EXSTDY',
      'NCT05985863,EX,NCT05985863-site-a-101,1,UC-MSC OR PLACEBO,62500000,{cells},,2,Week 0,2024-03-01T09:30:00+08:00,1',
      'NCT05985863,EX,NCT05985863-site-a-101,2,UC-MSC OR PLACEBO,30000000,{cells},Infusion stopped: reaction,3,Week 1,2024-03-08T10:15:00+08:00,8',
      'NCT05985863,EX,NCT05985863-site-a-102,1,UC-MSC OR PLACEBO,60000000,{cells},,2,Week 0,2024-03-02T09:00:00+08:00,1',
      'NCT05985863,EX,NCT05985863-site-a-102,2,UC-MSC OR PLACEBO,,,,99,Unscheduled,2024-03-20T14:00:00+08:00,19',
    ]));
    const cells = parseCsv(text).flat();
    for (const arm of study.arms) {
      expect(cells).not.toContain(arm.id);
      expect(text).not.toContain(arm.label);
    }
    expect(parseCsv(text)[0]).toEqual([...EX_COLUMNS]);
  });

  test('an open trial names the product', () => {
    const ds = dataset(shippedStudy('NCT02812121'), { administrations: [administration({ subject: '7', visit: 'W0', start: '2024-01-05T08:00:00+08:00' })] });
    expect(csvObjects(exCsv(ds))[0].EXTRT).toBe('UC-MSC');
  });

  test('no administrations: the header alone', () => {
    expect(exCsv(dataset(shippedStudy('ESLD-UCMSC-DOSE')))).toBe(`${EX_COLUMNS.join(',')}\r\n`);
  });
});
