/**
 * The FHIR receiver under /fhir: POST/PUT single resources, POST Bundles
 * (batch, transaction, collection), GET metadata. Every request is
 * authenticated as a site; every resource is validated before it is stored;
 * storage happens before queueing.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Config } from '../config';
import { AppError, okOutcome, outcomeFor } from '../errors';
import { ah, FHIR_JSON, requireSite, type Handler } from '../http';
import { planBundle, isSupportedType, SUPPORTED_TYPES } from './bundle';
import { createReceiver, type Receiver, type ReceiveDeps, type Stored } from './receive';
import { capabilityStatement } from './capability';
import { FHIR_ID, validateFhir } from './validate';
import { handleNotification, handlePing, keepRejected, type NotifyDeps } from '../connect/notify';
import { isNotificationBundle } from '../connect/notification';
import type { SiteSyncQueue } from '../queue/site-sync';


const isJsonType = (req: Request) => /^application\/(fhir\+)?json\b/i.test(req.headers['content-type'] ?? '');

function requireJson(req: Request, _res: Response, next: NextFunction) {
  if (!isJsonType(req)) return next(new AppError('unsupported-media-type', `got "${req.headers['content-type'] ?? '(none)'}"`));
  next();
}

function asResource(body: unknown): Resource {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new AppError('validation-failed', 'the body must be a JSON object (a FHIR resource)', ['$']);
  const rt = (body as { resourceType?: unknown }).resourceType;
  if (typeof rt !== 'string') throw new AppError('validation-failed', 'resourceType is missing', ['resourceType']);
  return body as Resource;
}

function location(s: Stored): string {
  return `${s.resourceType}/${s.resourceId}/_history/${s.version}`;
}

function sendStored(res: Response, s: Stored): void {
  res.status(s.created ? 201 : 200).type(FHIR_JSON).set({ Location: location(s), ETag: `W/"${s.version}"` });
  res.send(JSON.stringify(okOutcome(s.created ? `stored ${location(s)}` : `already stored ${location(s)}; nothing changed`)));
}

export function fhirRouter(config: Config, deps: ReceiveDeps & { siteQueue?: SiteSyncQueue }): Router {
  const r = express.Router();
  const receiver = createReceiver(deps);
  const notify: NotifyDeps | null = deps.siteQueue ? { db: deps.db, receiver, log: deps.log, queue: deps.siteQueue } : null;
  const json = express.json({ type: ['application/json', 'application/fhir+json'], limit: config.bodyLimitBytes, strict: false });

  r.get('/metadata', (_req, res) => {
    res.type(FHIR_JSON).send(JSON.stringify(capabilityStatement(config)));
  });
  r.use(requireSite(config.sites, config.users));

  const single = (idFromUrl: boolean): Handler => async (req, res) => {
    const type = req.params.type;
    if (!isSupportedType(type)) throw new AppError('unsupported-resource-type', `${type} is not accepted; accepted: ${SUPPORTED_TYPES.join(', ')}`);
    const resource = asResource(req.body);
    if (resource.resourceType !== type) throw new AppError('resource-type-mismatch', `URL says ${type}, body says ${resource.resourceType}`, ['resourceType']);
    let body = resource;
    if (idFromUrl) {
      const id = req.params.id;
      if (!FHIR_ID.test(id)) throw new AppError('invalid-id', `"${id}" is not a FHIR id`);
      if (resource.id !== undefined && resource.id !== id) throw new AppError('id-mismatch', `URL id ${id}, body id ${resource.id}`, [`${type}.id`]);
      body = { ...resource, id };
    }
    const issues = validateFhir(body);
    if (issues.length) throw new AppError('validation-failed', `${issues.length} problem(s)`, undefined, issues);
    const [stored] = await receiver.store(req.site!.id, [{ resource: body, context: null }], req.traceId!);
    sendStored(res, stored);
  };

  // The base is also the subscription endpoint (issue #5): an empty POST is an R4 rest-hook without payload,
  // a Bundle led by a SubscriptionStatus is a Backport/R5 notification; anything else is a Bundle to store.
  const raw = express.raw({ type: () => true, limit: config.bodyLimitBytes });
  r.post('/', raw, ah(async (req, res) => {
    const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    if (!text.trim()) {
      if (!notify) throw new AppError('site-not-connected', 'empty notification, and this process has no site-sync queue');
      res.type(FHIR_JSON).send(JSON.stringify(await handlePing(notify, req.site!)));
      return;
    }
    if (!isJsonType(req)) throw new AppError('unsupported-media-type', `got "${req.headers['content-type'] ?? '(none)'}"`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      const id = notify ? await keepRejected(notify, req.site!, text, `not JSON: ${(e as Error).message}`) : null;
      throw new AppError('not-json', `${(e as Error).message}${id ? `; kept as notification ${id}` : ''}`);
    }
    if (notify && isNotificationBundle(body)) {
      res.type(FHIR_JSON).send(JSON.stringify(await handleNotification(notify, req.site!, body, req.traceId!)));
      return;
    }
    const resource = asResource(body);
    if (resource.resourceType !== 'Bundle') throw new AppError('resource-type-mismatch', `POST to the base accepts a Bundle, got ${resource.resourceType}`, ['resourceType']);
    res.type(FHIR_JSON).send(JSON.stringify(await receiveBundle(receiver, req.site!.id, resource as Bundle, req.traceId!)));
  }));
  r.post('/:type', requireJson, json, ah(single(false)));
  r.put('/:type/:id', requireJson, json, ah(single(true)));
  r.all('*', (req, _res, next) => next(new AppError('method-not-allowed', `${req.method} ${req.baseUrl}${req.path}`)));
  return r;
}

/** Stores a Bundle's entries and builds the batch-response / transaction-response Bundle. */
export async function receiveBundle(receiver: Receiver, site: string, bundle: Bundle, traceId: string): Promise<Bundle> {
  const { type, plans } = planBundle(bundle);
  const invalid = plans.filter((p) => p.kind === 'invalid');
  if (type === 'transaction' && invalid.length) {
    // All or nothing (FHIR R4 transaction semantics): report every failed entry, store none.
    throw new AppError('transaction-failed', `${invalid.length} of ${plans.length} entries failed`, undefined, invalid.flatMap((p) => (p.kind === 'invalid' ? p.issues : [])));
  }
  const toStore = plans.filter((p) => p.kind === 'store');
  const stored = await receiver.store(site, toStore.map((p) => ({ resource: p.resource, context: p.context })), traceId);
  const byIndex = new Map(toStore.map((p, i) => [p.index, stored[i]]));
  const entry: BundleEntry[] = plans.map((p) => {
    switch (p.kind) {
      case 'store': {
        const s = byIndex.get(p.index)!;
        return { response: { status: s.created ? '201 Created' : '200 OK', location: location(s), etag: `W/"${s.version}"`, outcome: okOutcome(s.created ? 'stored' : 'already stored; nothing changed') } };
      }
      case 'ignored':
        return { response: { status: '200 OK', outcome: okOutcome(`${p.resourceType} is not used by trialbridge; not stored`, 'warning') } };
      case 'invalid': {
        const oo: OperationOutcome = outcomeFor('validation-failed', undefined, undefined, p.issues);
        return { response: { status: '400 Bad Request', outcome: oo } };
      }
    }
  });
  return { resourceType: 'Bundle', type: type === 'transaction' ? 'transaction-response' : 'batch-response', entry };
}
