/**
 * Builders shared by the schedule tests (not used by production code): FHIR
 * MedicationAdministrations and lab results as plain data, and the shipped trials.
 */
import type { MedicationAdministration } from '@medplum/fhirtypes';
import { findArm, loadTrials, type Arm, type Trial } from '../trials';
import type { LabResult } from './assign';
import { addDays, type LocalDate } from './dates';
import type { ScheduleInput } from './evaluate';

export const TRIALS = loadTrials();

export function trial(key: string): Trial {
  const t = TRIALS.get(key);
  if (!t) throw new Error(`no trial ${key}`);
  return t;
}

export function arm(t: Trial, id: string): Arm {
  const a = findArm(t, id);
  if (!a) throw new Error(`no arm ${id} in ${t.key}`);
  return a;
}

export const SHANGHAI = { id: 'site-a', timeZone: 'Asia/Shanghai' } as const;

/** The placeholder blinded study-drug code shipped in every trial file. */
export function studyDrugCode(t: Trial): { system: string; code: string } {
  return t.studyDrug.codes[0];
}

let seq = 0;

export function infusion(t: Trial, effective: string, extra: Partial<MedicationAdministration> = {}): MedicationAdministration {
  return {
    resourceType: 'MedicationAdministration',
    id: `ma-${++seq}`,
    status: 'completed',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: { coding: [studyDrugCode(t)] },
    effectiveDateTime: effective,
    ...extra,
  };
}

export function concomitant(effective: string): MedicationAdministration {
  return {
    resourceType: 'MedicationAdministration',
    id: `cm-${++seq}`,
    status: 'completed',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: { coding: [{ system: 'http://www.whocc.no/atc', code: 'C03CA01', display: 'furosemide' }] },
    effectiveDateTime: effective,
  };
}

export function cells(value: number, unit = '{cells}'): MedicationAdministration['dosage'] {
  return { dose: { value, unit, system: 'http://unitsofmeasure.org', code: unit } };
}

export function result(item: string, effective: string, extra: Partial<LabResult> = {}): LabResult {
  return { ref: `Observation/${item}-${++seq}`, item, effective, ...extra };
}

/** Noon, site time (UTC+8), on Day 0 + n. */
export function dayAt(day0: LocalDate, n: number, time = '12:00:00'): string {
  return `${addDays(day0, n)}T${time}+08:00`;
}

export function input(t: Trial, armId: string, over: Partial<ScheduleInput>): ScheduleInput {
  return { trial: t, arm: arm(t, armId), site: SHANGHAI, medicationAdministrations: [], results: [], asOf: '2026-01-01', ...over };
}
