import { codeListOid, formOid, itemGroupOid, itemOid, OidMap, oidPart, studyEventOid } from './oids';

describe('OID parts of free strings', () => {
  test.each<[string, string]>([
    ['mg/dL', 'mg_dL'],
    ['10*9/L', '10_9_L'],
    ['[IU]/mL', 'IU_mL'],
    ['{INR}', 'INR'],
    ['%', 'pct'],
    ['umol/L', 'umol_L'],
    ['reviewed and approved', 'reviewed_and_approved'],
    ['site-a', 'site-a'],
    ['auth0|5f.3', 'auth0_5f.3'],
    ['<&"\'>', '_'],
    ['', '_'],
  ])('%p -> %p', (input, part) => {
    expect(oidPart(input)).toBe(part);
  });
});

describe('OidMap', () => {
  test('a string whose part is its own keeps it; prefix and dot', () => {
    const m = new OidMap('MU', ['mg/dL', '%', 'g/L']);
    expect([m.get('mg/dL'), m.get('%'), m.get('g/L')]).toEqual(['MU.mg_dL', 'MU.pct', 'MU.g_L']);
  });

  test('two strings that would share an OID both get a hash of their own text, so they differ and stay stable', () => {
    const m = new OidMap('USR', ['a b', 'a/b', 'c']);
    const ab = m.get('a b');
    const slash = m.get('a/b');
    expect(ab).toMatch(/^USR\.a_b-[0-9a-f]{8}$/);
    expect(slash).toMatch(/^USR\.a_b-[0-9a-f]{8}$/);
    expect(ab).not.toBe(slash);
    expect(m.get('c')).toBe('USR.c');
    // The same colliding pair in another set, another order: the same OIDs.
    const again = new OidMap('USR', ['x', 'a/b', 'a b']);
    expect([again.get('a b'), again.get('a/b')]).toEqual([ab, slash]);
  });

  test('a string outside the set is a writer bug, not a silent new OID', () => {
    expect(() => new OidMap('LOC', ['site-a']).get('site-z')).toThrow(/no LOC OID/);
  });

  test('study element OIDs follow the documented scheme', () => {
    expect([studyEventOid('W12'), formOid('LB'), itemGroupOid('LB'), itemOid('LB', 'TBIL'), codeListOid('LB', 'HBSAG')]).toEqual(['SE.W12', 'F.LB', 'IG.LB', 'IT.LB.TBIL', 'CL.LB.HBSAG']);
  });
});
