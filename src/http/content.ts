/**
 * FHIR content types at the HTTP edge (FHIR R4 http.html#mime): what a request
 * body may be, and what a client accepts. We read and write JSON only:
 * `application/fhir+json`, and `application/json` which R4 servers accept as
 * the same thing. The DSTU2 type `application/json+fhir` is refused with its
 * R4 name, so a client learns what to change.
 */
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors';

/** The types we produce, best first. */
export const PRODUCED_TYPES = ['application/fhir+json', 'application/json'] as const;

const DSTU2 = new Set(['application/json+fhir', 'application/xml+fhir']);

/** `type/subtype` of a Content-Type or media range, lower-cased, without parameters. */
export function mediaType(header: string): string {
  return header.split(';')[0].trim().toLowerCase();
}

/**
 * Why a request's Content-Type cannot be read as FHIR JSON, or null when it can.
 * Only the media type decides; parameters (charset, fhirVersion) are ignored.
 */
export function contentTypeProblem(header: string | undefined): string | null {
  if (!header) return 'Content-Type is missing; send application/fhir+json';
  const t = mediaType(header);
  if ((PRODUCED_TYPES as readonly string[]).includes(t)) return null;
  if (DSTU2.has(t)) return `${t} is the FHIR DSTU2 media type; FHIR R4 uses application/fhir+json`;
  return `got "${t}"; send application/fhir+json`;
}

/** Middleware: 415 `unsupported-media-type` unless the body is FHIR JSON. */
export function requireFhirJson(req: Request, _res: Response, next: NextFunction): void {
  const why = contentTypeProblem(req.headers['content-type']);
  next(why ? new AppError('unsupported-media-type', why) : undefined);
}

interface MediaRange {
  readonly type: string;
  readonly q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header.split(',').flatMap((part) => {
    const [range, ...params] = part.split(';').map((x) => x.trim());
    if (!range) return [];
    const qp = params.find((p) => /^q=/i.test(p));
    const q = qp ? Number(qp.slice(2)) : 1;
    return [{ type: range.toLowerCase(), q: Number.isFinite(q) ? q : 0 }];
  });
}

const matches = (range: string, type: string) => range === '*/*' || range === type || (range.endsWith('/*') && type.startsWith(range.slice(0, -1)));

/** `_format` values meaning JSON (FHIR R4 http.html#mime: json, the MIME types). */
const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json']);

/**
 * Why nothing we produce is acceptable, or null. `_format` overrides Accept
 * (FHIR R4 http.html#mime); an absent Accept accepts anything (RFC 9110 §12.5.1).
 */
export function notAcceptable(accept: string | undefined, format: unknown): string | null {
  if (format !== undefined) {
    const f = typeof format === 'string' ? mediaType(format) : '';
    return JSON_FORMATS.has(f) ? null : `_format=${typeof format === 'string' ? format : '(repeated)'} cannot be produced; use _format=json`;
  }
  if (!accept?.trim()) return null;
  const ranges = parseAccept(accept);
  const ok = PRODUCED_TYPES.some((t) => {
    const best = ranges.filter((r) => matches(r.type, t)).sort((a, b) => b.type.length - a.type.length)[0];
    return best !== undefined && best.q > 0;
  });
  return ok ? null : `Accept "${accept.slice(0, 200)}" allows nothing we produce; we produce ${PRODUCED_TYPES.join(' and ')}`;
}

/** Middleware: 406 `not-acceptable` when Accept/_format allow only what we cannot produce. */
export function negotiateFhirJson(req: Request, _res: Response, next: NextFunction): void {
  const why = notAcceptable(req.headers.accept, req.query._format);
  next(why ? new AppError('not-acceptable', why) : undefined);
}
