import { aarc, type AarcInput, aarcGrade } from './aarc';
import { okOf } from './test-helpers';

describe('AARC score, clinical-reference §4.6 computed examples', () => {
  test.each<[string, AarcInput, number, 'I' | 'II' | 'III']>([
    ['§4.6 example 1', { bilirubinMgDl: 12, heGrade: 0, inr: 2.0, lactateMmolL: 1.0, creatinineMgDl: 0.8 }, 7, 'I'],
    ['§4.6 example 2 (all lower end points score 2)', { bilirubinMgDl: 15, heGrade: 1, inr: 1.8, lactateMmolL: 1.5, creatinineMgDl: 0.7 }, 10, 'II'],
    ['§4.6 example 3', { bilirubinMgDl: 26, heGrade: 3, inr: 2.6, lactateMmolL: 2.6, creatinineMgDl: 1.6 }, 15, 'III'],
    ['upper end points score 2', { bilirubinMgDl: 25, heGrade: 2, inr: 2.5, lactateMmolL: 2.5, creatinineMgDl: 1.5 }, 10, 'II'],
    ['all lowest', { bilirubinMgDl: 5, heGrade: 0, inr: 1.5, lactateMmolL: 1.0, creatinineMgDl: 0.5 }, 5, 'I'],
  ])('%s → %p, grade %p', (_id, input, total, grade) => {
    const result = okOf(aarc(input));
    expect(result.value).toBe(total);
    expect(result.class).toBe(grade);
  });

  test.each<[number, 'I' | 'II' | 'III']>([
    [5, 'I'],
    [7, 'I'],
    [8, 'II'],
    [10, 'II'],
    [11, 'III'],
    [15, 'III'],
  ])('%p points → grade %p', (points, grade) => {
    expect(aarcGrade(points)).toBe(grade);
  });

  test.each<[string, AarcInput, string[]]>([
    ['no lactate', { bilirubinMgDl: 12, heGrade: 0, inr: 2.0, creatinineMgDl: 0.8 }, ['lactateMmolL']],
    ['no HE grade (not assumed 0)', { bilirubinMgDl: 12, inr: 2.0, lactateMmolL: 1.0, creatinineMgDl: 0.8 }, ['heGrade']],
  ])('%s → unknown %p', (_why, input, missing) => {
    expect(aarc(input)).toEqual({ status: 'unknown', missing });
  });
});
