import { escapeAttr, escapeText, xmlChars, XmlWriter } from './xml';

describe('XML escaping (XML 1.0 §2.2, §2.4, §3.3.3)', () => {
  test.each<[string, string, string]>([
    ['markup', `<a href="x">&'</a>`, '&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;'],
    ['an entity that is already escaped is escaped again', '&amp;', '&amp;amp;'],
    ['CDATA end', ']]>', ']]&gt;'],
    ['TAB, LF and CR survive attribute normalisation', 'a\tb\nc\rd', 'a&#9;b&#10;c&#13;d'],
    ['controls XML 1.0 cannot carry are dropped', 'a\u0000b\u0001c\u001Fd\u000Be\uFFFEf', 'abcdef'],
    ['a lone surrogate is dropped, a pair is kept', 'x\uD800y\uDC00z😀', 'xyz😀'],
    ['plain text unchanged', 'Ivan Investigator 10*9/L', 'Ivan Investigator 10*9/L'],
  ])('attribute: %s', (_name, input, expected) => {
    expect(escapeAttr(input)).toBe(expected);
  });

  test('text escapes & < > and CR, keeps quotes, TAB and LF', () => {
    expect(escapeText(`<&>"'\t\n\r`)).toBe(`&lt;&amp;&gt;"'\t\n&#13;`);
  });

  test('xmlChars keeps every character XML 1.0 allows', () => {
    const ok = 'tab\t lf\n cr\r é ü 中文 \u2028 \uE000 😀';
    expect(xmlChars(ok)).toBe(ok);
  });
});

describe('XmlWriter', () => {
  test('indents, leaves out null attributes and escapes attributes and text', () => {
    const w = new XmlWriter();
    w.open('A', [['x', '1'], ['y', null], ['z', 2]]).text('B', 'a<b', [['q', '"']]).empty('C', [['u', undefined]]).close('A');
    expect(w.drain()).toBe('<A x="1" z="2">\n  <B q="&quot;">a&lt;b</B>\n  <C/>\n</A>\n');
  });

  test('take() hands out the buffer only once it reaches the chunk size; drain() empties it', () => {
    const w = new XmlWriter(20);
    w.empty('Short');
    expect(w.take()).toBeNull();
    w.empty('LongerElementName');
    const chunk = w.take();
    expect(chunk).toBe('<Short/>\n<LongerElementName/>\n');
    expect(w.take()).toBeNull();
    expect(w.drain()).toBe('');
  });
});
