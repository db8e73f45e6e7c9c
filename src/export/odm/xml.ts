/**
 * The little XML the ODM writer needs: escaping and a chunked, indented writer.
 *
 * Escaping follows XML 1.0 (W3C REC-xml §2.2 Characters, §2.4 Character Data, §3.3.3
 * Attribute-Value Normalization): `&` and `<` always, `>` too (a `]]>` in text is not
 * well-formed), both quotes in attributes, and TAB/LF/CR in attributes as character
 * references so a reader's normalisation does not turn them into spaces. Characters XML 1.0
 * cannot carry at all (C0 controls other than TAB/LF/CR, U+FFFE/U+FFFF, lone surrogates)
 * are dropped: a reference to them (`&#1;`) is not well-formed either.
 */

const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Any character that needs escaping or removal (a fast path: most values need neither). */
const NEEDS_WORK = /[\u0000-\u001F&<>"'\uD800-\uDFFF\uFFFE\uFFFF]/;

/** The text with every character XML 1.0 cannot represent removed. */
export function xmlChars(s: string): string {
  return s.replace(NOT_XML_CHAR, '');
}

const TEXT_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };
const ATTR_ESCAPES: Readonly<Record<string, string>> = { ...TEXT_ESCAPES, '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;' };

/** Character data: `& < >` (and CR, which a parser would fold into LF) as references. */
export function escapeText(s: string): string {
  if (!NEEDS_WORK.test(s)) return s;
  return xmlChars(s).replace(/[&<>\r]/g, (c) => TEXT_ESCAPES[c]);
}

/** An attribute value for a double-quoted attribute: `& < > " '` and TAB/LF/CR as references. */
export function escapeAttr(s: string): string {
  if (!NEEDS_WORK.test(s)) return s;
  return xmlChars(s).replace(/[&<>"'\t\n\r]/g, (c) => ATTR_ESCAPES[c]);
}

/** Attributes in the order written; null/undefined ones are left out. */
export type Attrs = readonly (readonly [string, string | number | null | undefined])[];

function attrs(list: Attrs | undefined): string {
  let out = '';
  for (const [name, value] of list ?? []) if (value !== null && value !== undefined) out += ` ${name}="${escapeAttr(String(value))}"`;
  return out;
}

const INDENTS: string[] = [];
const indent = (depth: number): string => (INDENTS[depth] ??= '  '.repeat(depth));

/** Default chunk size: large enough that a stream is not a storm of tiny writes. */
export const XML_CHUNK_CHARS = 64 * 1024;

/**
 * Appends indented XML to a buffer that the caller drains in chunks (`take()` when
 * the buffer is full, `drain()` at the end), so a generator can stream a file of any
 * size without holding it whole.
 */
export class XmlWriter {
  private parts: string[] = [];
  private size = 0;
  private depth = 0;

  constructor(private readonly chunkChars: number = XML_CHUNK_CHARS) {}

  raw(s: string): this {
    this.parts.push(s);
    this.size += s.length;
    return this;
  }

  private line(s: string): this {
    return this.raw(`${indent(this.depth)}${s}\n`);
  }

  open(name: string, a?: Attrs): this {
    this.line(`<${name}${attrs(a)}>`);
    this.depth++;
    return this;
  }

  close(name: string): this {
    this.depth--;
    return this.line(`</${name}>`);
  }

  empty(name: string, a?: Attrs): this {
    return this.line(`<${name}${attrs(a)}/>`);
  }

  /** `<name a="..">text</name>` on one line. */
  text(name: string, text: string, a?: Attrs): this {
    return this.line(`<${name}${attrs(a)}>${escapeText(text)}</${name}>`);
  }

  /** The buffered text once it has reached a chunk's size, else null. */
  take(): string | null {
    return this.size >= this.chunkChars ? this.drain() : null;
  }

  /** Everything buffered so far (may be ''). */
  drain(): string {
    const out = this.parts.join('');
    this.parts = [];
    this.size = 0;
    return out;
  }
}
