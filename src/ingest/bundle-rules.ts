/**
 * The Bundle container itself, checked before any entry is planned: the FHIR R4
 * Bundle invariants that concern what we receive (bundle.html#invariants), the
 * cardinalities of entry.request / entry.response, and members the Bundle,
 * entry, request, response, search and link elements do not define. The
 * entries' resources are validated one by one later (validate.ts).
 *
 * - bdl-1: total only when a search or history
 * - bdl-2: entry.search only when a search
 * - bdl-3: entry.request mandatory for batch/transaction/history, otherwise prohibited
 * - bdl-4: entry.response mandatory for batch-response/transaction-response/history, otherwise prohibited
 * - bdl-5: an entry must have a resource unless there's a request or response
 * - bdl-7: fullUrl must be unique in a bundle, or else entries with the same fullUrl must have different meta.versionId (except in history bundles)
 * - bdl-8: fullUrl cannot be a version specific reference
 */
import { getDataType, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { AcceptResult } from './accept';
import { initFhirValidator } from './fhir-definitions';
import { dateProblem } from './dates';

/** FHIR R4 http-verb value set. */
const HTTP_VERBS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'];
const BUNDLE_TYPES: readonly string[] = ['document', 'message', 'transaction', 'transaction-response', 'batch', 'batch-response', 'history', 'searchset', 'collection'];

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

const err = (code: OperationOutcomeIssue['code'], path: string, text: string): OperationOutcomeIssue => ({ severity: 'error', code, details: { text }, expression: [path] });

function inner(name: string): InternalTypeSchema {
  const bundle = getDataType('Bundle');
  return name === 'Bundle' ? bundle : bundle.innerTypes.find((t) => t.name === name) ?? getDataType(name);
}

/** Members an element does not define (`_x` is the primitive extension of `x`, FHIR R4 json.html#primitive). */
function unknownMembers(node: Record<string, unknown>, type: string, path: string, extra: readonly string[] = []): OperationOutcomeIssue[] {
  const elements = inner(type).elements;
  return Object.keys(node)
    .filter((k) => !extra.includes(k) && !Object.hasOwn(elements, k) && !(k.startsWith('_') && Object.hasOwn(elements, k.slice(1))))
    .map((k) => err('structure', `${path}.${k}`, `Invalid additional property "${k}" (not an element of ${type === 'Bundle' ? 'Bundle' : inner(type).path})`));
}

function checkRequest(req: unknown, path: string): OperationOutcomeIssue[] {
  if (!isObj(req)) return [err('structure', path, 'request must be an object with method and url')];
  const out = unknownMembers(req, 'BundleEntryRequest', path);
  if (req.method === undefined) out.push(err('required', `${path}.method`, 'request.method is required (FHIR R4 Bundle.entry.request.method 1..1)'));
  else if (typeof req.method !== 'string' || !HTTP_VERBS.includes(req.method)) out.push(err('code-invalid', `${path}.method`, `request.method must be one of ${HTTP_VERBS.join(', ')}`));
  if (req.url === undefined) out.push(err('required', `${path}.url`, 'request.url is required (FHIR R4 Bundle.entry.request.url 1..1)'));
  else if (typeof req.url !== 'string' || !req.url.trim()) out.push(err('value', `${path}.url`, 'request.url must be a non-empty string'));
  return out;
}

function checkResponse(res: unknown, path: string): OperationOutcomeIssue[] {
  if (!isObj(res)) return [err('structure', path, 'response must be an object with status')];
  const out = unknownMembers(res, 'BundleEntryResponse', path);
  if (typeof res.status !== 'string' || !res.status.trim()) out.push(err('required', `${path}.status`, 'response.status is required (FHIR R4 Bundle.entry.response.status 1..1)'));
  return out;
}

function checkEntry(entry: unknown, type: string, path: string): OperationOutcomeIssue[] {
  if (!isObj(entry)) return [err('structure', path, 'an entry must be an object')];
  const out = unknownMembers(entry, 'BundleEntry', path);
  const needsRequest = type === 'batch' || type === 'transaction' || type === 'history';
  const needsResponse = type === 'batch-response' || type === 'transaction-response' || type === 'history';
  if (needsRequest && entry.request === undefined) out.push(err('required', `${path}.request`, `bdl-3: entry.request is mandatory in a ${type} Bundle`));
  if (!needsRequest && entry.request !== undefined) out.push(err('structure', `${path}.request`, `bdl-3: entry.request is only allowed in batch, transaction and history Bundles, not ${type}`));
  if (entry.request !== undefined) out.push(...checkRequest(entry.request, `${path}.request`));
  if (needsResponse && entry.response === undefined) out.push(err('required', `${path}.response`, `bdl-4: entry.response is mandatory in a ${type} Bundle`));
  if (!needsResponse && entry.response !== undefined) out.push(err('structure', `${path}.response`, `bdl-4: entry.response is only allowed in batch-response, transaction-response and history Bundles, not ${type}`));
  if (entry.response !== undefined) out.push(...checkResponse(entry.response, `${path}.response`));
  if (entry.search !== undefined && type !== 'searchset') out.push(err('structure', `${path}.search`, 'bdl-2: entry.search is only allowed in a searchset Bundle'));
  if (entry.resource === undefined && entry.request === undefined && entry.response === undefined) out.push(err('required', `${path}.resource`, 'bdl-5: an entry must have a resource unless there is a request or response'));
  if (entry.resource !== undefined && !(isObj(entry.resource) && typeof entry.resource.resourceType === 'string')) out.push(err('structure', `${path}.resource`, 'entry.resource must be a resource (an object with a resourceType)'));
  if (entry.fullUrl !== undefined) {
    if (typeof entry.fullUrl !== 'string' || !entry.fullUrl) out.push(err('value', `${path}.fullUrl`, 'fullUrl must be a non-empty string'));
    else if (entry.fullUrl.includes('/_history/')) out.push(err('value', `${path}.fullUrl`, 'bdl-8: fullUrl cannot be a version specific reference (contains /_history/)'));
  }
  if (entry.link !== undefined && !Array.isArray(entry.link)) out.push(err('structure', `${path}.link`, 'entry.link must be an array'));
  return out;
}

/** bdl-7: the same fullUrl twice needs different meta.versionId (not checked in history Bundles). */
function duplicateFullUrls(entries: readonly unknown[], path: string): OperationOutcomeIssue[] {
  const seen = new Map<string, number>();
  const out: OperationOutcomeIssue[] = [];
  entries.forEach((e, i) => {
    if (!isObj(e) || typeof e.fullUrl !== 'string') return;
    const meta = isObj(e.resource) && isObj(e.resource.meta) ? e.resource.meta : null;
    const key = `${e.fullUrl}\u0001${typeof meta?.versionId === 'string' ? meta.versionId : ''}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else out.push(err('duplicate', `${path}.entry[${i}].fullUrl`, `bdl-7: fullUrl repeats entry[${first}] with the same meta.versionId; fullUrl must be unique in a Bundle`));
  });
  return out;
}

/**
 * Every problem of the Bundle container (empty when it may be processed). Paths
 * name the element, e.g. `Bundle.entry[3].request`; `path` is the Bundle's own
 * path when it is nested in another (`Bundle.entry[0].resource`). Nested
 * collection Bundles (flattened by the planner) are checked too.
 */
export function checkBundleContainer(bundle: unknown, path = 'Bundle'): OperationOutcomeIssue[] {
  initFhirValidator();
  if (!isObj(bundle)) return [err('structure', path, 'a Bundle must be a JSON object')];
  const out = unknownMembers(bundle, 'Bundle', path, ['resourceType']);
  const type = bundle.type;
  if (type === undefined) out.push(err('required', `${path}.type`, 'Bundle.type is required'));
  else if (typeof type !== 'string' || !BUNDLE_TYPES.includes(type)) out.push(err('code-invalid', `${path}.type`, `Bundle.type must be one of ${BUNDLE_TYPES.join(', ')}`));
  if (bundle.total !== undefined && type !== 'searchset' && type !== 'history') out.push(err('structure', `${path}.total`, 'bdl-1: total is only allowed in a searchset or history Bundle'));
  if (bundle.timestamp !== undefined) {
    const why = dateProblem(bundle.timestamp, 'instant');
    if (why) out.push(err('value', `${path}.timestamp`, `instant ${why}`));
  }
  if (bundle.entry === undefined) return out;
  if (!Array.isArray(bundle.entry)) return [...out, err('structure', `${path}.entry`, 'Bundle.entry must be an array')];
  bundle.entry.forEach((e, i) => {
    const at = `${path}.entry[${i}]`;
    out.push(...checkEntry(e, String(type), at));
    const r = isObj(e) ? e.resource : undefined;
    if (isObj(r) && r.resourceType === 'Bundle' && r.type === 'collection') out.push(...checkBundleContainer(r, `${at}.resource`));
  });
  if (type !== 'history') out.push(...duplicateFullUrls(bundle.entry, path));
  return out;
}

/** What a history Bundle's deletion needs: its request (an entry without a resource, FHIR R4 http.html#history). */
interface DeletionCandidate {
  readonly resource: unknown;
  readonly request?: { readonly method: string; readonly url?: string; readonly at?: string };
}

/** A deletion listed by a history Bundle: acknowledged, nothing stored (the resource's earlier versions keep their data). */
export function isHistoryDeletion(bundleType: string, e: DeletionCandidate): boolean {
  return bundleType === 'history' && e.request?.method === 'DELETE' && e.resource === undefined;
}

/** The result reported for such a deletion (an informational acknowledgement, entry status 200). */
export function historyDeletionResult(index: number, e: DeletionCandidate): AcceptResult {
  const type = e.request?.url?.split(/[/?]/)[0];
  return {
    index, outcome: 'ignored', ...(type && /^[A-Z][A-Za-z]+$/.test(type) ? { resourceType: type } : {}),
    issues: [{ severity: 'information', code: 'informational', diagnostics: 'a deletion in a history Bundle: acknowledged, nothing stored', ...(e.request?.at ? { expression: [e.request.at] } : {}) }],
  };
}
