/**
 * What a review request must say (README "Review API"), checked against the
 * shipped CRF definitions and the one unit converter: controlled reasons,
 * notes, values per item type, units converted to the CRF unit, and the role
 * recorded for the actor.
 */
import { AppError } from '../errors';
import type { Principal } from '../http';
import { DEFAULT_MAPPINGS_DIR, loadMappings } from '../mapping';
import { MAX_NOTE_LENGTH, REVIEW_REASONS } from '../protocol/review-reasons';
import { actorFor, crfItemOf, itemValueOf, noteOf, reasonOf } from './review';

const set = loadMappings(DEFAULT_MAPPINGS_DIR);
const rule = (trial: string, item: string) => set.rulesFor(trial).find((r) => r.item === item)!;

/** The catalogue code and expression of what `fn` throws. */
function refusal(fn: () => unknown): { code: string; expression?: string[] } {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return { code: e.code, expression: e.expression };
    throw e;
  }
  throw new Error('did not throw');
}

describe('reasons and notes', () => {
  test.each([
    ['correct', { reason: 'transcription-error' }, { reason: 'transcription-error', note: null }],
    ['reject', { reason: 'duplicate', note: '  same as value 12 ' }, { reason: 'duplicate', note: 'same as value 12' }],
    ['dismiss', { reason: 'other', note: 'site closed the query' }, { reason: 'other', note: 'site closed the query' }],
  ] as const)('%s %j is accepted', (kind, body, out) => {
    expect(reasonOf(kind, { ...body })).toEqual(out);
  });

  test.each([
    ['correct', {}, ['reason']],
    ['correct', { reason: '' }, ['reason']],
    ['correct', { reason: 'duplicate' }, ['reason']],
    ['reject', { reason: 'transcription-error' }, ['reason']],
    ['dismiss', { reason: ['other'] }, ['reason']],
    ['reject', { reason: 'other' }, ['note']],
    ['reject', { reason: 'other', note: ' ' }, ['note']],
    ['reject', { reason: 'duplicate', note: 3 }, ['note']],
  ] as const)('%s %j is refused naming %j', (kind, body, expression) => {
    expect(refusal(() => reasonOf(kind, { ...body }))).toEqual({ code: 'invalid-review', expression });
  });

  test('every list has distinct codes and other', () => {
    for (const list of Object.values(REVIEW_REASONS)) {
      expect(new Set(list.map((r) => r.code)).size).toBe(list.length);
      expect(list.map((r) => r.code)).toContain('other');
    }
  });

  test(`a note longer than ${MAX_NOTE_LENGTH} characters is refused`, () => {
    expect(refusal(() => reasonOf('reject', { reason: 'duplicate', note: 'x'.repeat(MAX_NOTE_LENGTH + 1) }))).toEqual({ code: 'invalid-review', expression: ['note'] });
  });

  test('no note is null', () => {
    expect(noteOf({})).toBeNull();
    expect(noteOf({ note: null })).toBeNull();
    expect(noteOf({ note: '' })).toBeNull();
  });
});

describe('values against the CRF item', () => {
  const tbil = rule('NCT02812121', 'TBIL');
  const hbsag = rule('NCT02812121', 'HBSAG');

  test.each([
    [{ value: 102.6 }, { value: 102.6, unit: 'umol/L', entered: null }],
    [{ value: 102.6, unit: 'umol/L' }, { value: 102.6, unit: 'umol/L', entered: null }],
    [{ value: 102.6, unit: 'µmol/L' }, { value: 102.6, unit: 'umol/L', entered: null }],
    [{ value: 6, unit: 'mg/dL' }, { value: 102.6, unit: 'umol/L', entered: { value: 6, unit: 'mg/dL' } }],
    [{ value: 4.6, unit: 'mg/dL' }, { value: 78.7, unit: 'umol/L', entered: { value: 4.6, unit: 'mg/dL' } }],
  ])('TBIL %j -> %j (clinical-reference §3: 17.1 umol/L per mg/dL, CRF decimals 1)', (body, out) => {
    expect(itemValueOf(set, tbil, body)).toEqual(out);
  });

  test.each([
    [{ value: '6' }, ['value']],
    [{ value: null }, ['value']],
    [{ value: Infinity }, ['value']],
    [{ value: 6, unit: 'kg' }, ['unit']],
    [{ value: 6, unit: '' }, ['unit']],
    [{ value: 6, unit: 7 }, ['unit']],
  ])('TBIL %j is refused naming %j', (body, expression) => {
    expect(refusal(() => itemValueOf(set, tbil, body))).toEqual({ code: 'invalid-review', expression });
  });

  test('a coded item takes one of its codes and no unit', () => {
    expect(itemValueOf(set, hbsag, { value: 'POS' })).toEqual({ value: 'POS', unit: null, entered: null });
    expect(refusal(() => itemValueOf(set, hbsag, { value: 'maybe' }))).toEqual({ code: 'invalid-review', expression: ['value'] });
    expect(refusal(() => itemValueOf(set, hbsag, { value: 1 }))).toEqual({ code: 'invalid-review', expression: ['value'] });
    expect(refusal(() => itemValueOf(set, hbsag, { value: 'NEG', unit: 'mg/dL' }))).toEqual({ code: 'invalid-review', expression: ['unit'] });
  });

  test('form and item must be in the trial CRF', () => {
    expect(crfItemOf(set, 'NCT02812121', 'LB', 'TBIL').id).toBe('NCT02812121.LB.TBIL');
    expect(refusal(() => crfItemOf(set, 'NCT02812121', 'XX', 'TBIL'))).toEqual({ code: 'invalid-review', expression: ['form'] });
    expect(refusal(() => crfItemOf(set, 'NCT02812121', 'LB', 'NOPE'))).toEqual({ code: 'invalid-review', expression: ['item'] });
    expect(refusal(() => crfItemOf(set, 'NCT02812121', 3, 'TBIL'))).toEqual({ code: 'invalid-review', expression: ['form'] });
  });
});

describe('the actor is the user with the role of the grant that allowed the action', () => {
  const p: Principal = {
    id: 'dora', name: 'Dora Data', via: 'token',
    grants: [
      { role: 'monitor', trial: '*', site: '*' },
      { role: 'data-manager', trial: 'NCT02812121', site: 'site-a' },
    ],
  };

  test('review in scope: the data-manager grant', () => {
    expect(actorFor(p, 'review', 'NCT02812121', 'site-a')).toEqual({ id: 'dora', role: 'data-manager', name: 'Dora Data' });
  });

  test('read: the first grant that covers it', () => {
    expect(actorFor(p, 'read', 'NCT05985863', 'site-b').role).toBe('monitor');
  });

  test('review outside the grant: 403', () => {
    expect(refusal(() => actorFor(p, 'review', 'NCT02812121', 'site-b')).code).toBe('forbidden');
    expect(refusal(() => actorFor(p, 'review', 'NCT05985863', 'site-a')).code).toBe('forbidden');
  });
});
