/**
 * The FHIR receiver under /fhir: POST/PUT single resources, POST Bundles
 * (batch, transaction, collection), subscription notifications at the base,
 * GET metadata. Every request is authenticated as a site; every resource
 * goes through the front door (accept.ts).
 */
import express, { type Request, type Router } from 'express';
import type { Bundle } from '@medplum/fhirtypes';
import type { Config, SiteConfig } from '../config';
import { AppError } from '../errors';
import { ah, contentTypeProblem, FHIR_JSON, negotiateFhirJson, requireFhirJson, requireSite, type Handler } from '../http';
import type { SiteSyncQueue } from '../queue/site-sync';
import { createReceiver, type AcceptRequest, type Receiver, type ReceiveDeps } from './accept';
import { bundleEntries } from './bundle';
import { checkBundleContainer, historyDeletionResult, isHistoryDeletion } from './bundle-rules';
import { capabilityStatement } from './capability';
import { handleNotification, handlePing, keepRejected, type NotifyDeps } from './notify';
import { isNotificationBundle } from './notification';
import { jsonBody, JsonSyntaxError, parseJson } from './parse-json';
import { entryResponse, renderSingle, respondContext, sendRendered, type RespondContext } from './respond';
import { isSupportedType, SUPPORTED_TYPES } from './supported';

const header = (req: Request, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
};

export function fhirRouter(config: Config, deps: ReceiveDeps & { siteQueue?: SiteSyncQueue }): Router {
  const r = express.Router();
  const receiver = createReceiver({ ...deps, sites: config.sites });
  const notify: NotifyDeps | null = deps.siteQueue ? { db: deps.db, receiver, log: deps.log, queue: deps.siteQueue } : null;
  const json = jsonBody(config.bodyLimitBytes);

  // Content negotiation first, so every answer (metadata and errors included) is one the client accepts.
  r.use(negotiateFhirJson);
  r.get('/metadata', (_req, res) => {
    res.type(FHIR_JSON).send(JSON.stringify(capabilityStatement(config)));
  });
  r.use(requireSite(config.sites, config.users));

  const single = (put: boolean): Handler => async (req, res) => {
    const type = req.params.type;
    if (!isSupportedType(type)) throw new AppError('unsupported-resource-type', `${type} is not accepted; accepted: ${SUPPORTED_TYPES.join(', ')}`);
    const request: AcceptRequest = put
      ? { method: 'PUT', url: `${type}/${req.params.id}`, ifMatch: header(req, 'if-match') }
      : { method: 'POST', url: type, ifNoneExist: header(req, 'if-none-exist') };
    const [result] = await receiver.accept(req.site!.id, [{ resource: req.body, path: type, request }], { atomic: false, traceId: req.traceId!, source: 'http' });
    sendRendered(res, renderSingle(result, respondContext(req, config.publicUrl)));
  };

  // The base is also the subscription endpoint (README "Connect a site"): an empty POST is an R4 rest-hook without payload,
  // a Bundle led by a SubscriptionStatus is a Backport/R5 notification; anything else is a Bundle to store.
  const raw = express.raw({ type: () => true, limit: config.bodyLimitBytes });
  r.post('/', raw, ah(async (req, res) => {
    const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    if (!text.trim()) {
      if (!notify) throw new AppError('site-not-connected', 'empty notification, and this process has no site-sync queue');
      res.type(FHIR_JSON).send(JSON.stringify(await handlePing(notify, req.site!)));
      return;
    }
    const typeProblem = contentTypeProblem(req.headers['content-type']);
    if (typeProblem) throw new AppError('unsupported-media-type', typeProblem);
    let body: unknown;
    try {
      body = parseJson(text);
    } catch (e) {
      if (!(e instanceof JsonSyntaxError)) throw e;
      const id = notify ? await keepRejected(notify, req.site!, text, `not JSON: ${e.problem}`) : null;
      throw new AppError('not-json', `${e.problem}${id ? `; kept as notification ${id}` : ''}`);
    }
    if (notify && isNotificationBundle(body)) {
      res.type(FHIR_JSON).send(JSON.stringify(await handleNotification(notify, req.site!, body, req.traceId!)));
      return;
    }
    const rt = body && typeof body === 'object' && !Array.isArray(body) ? (body as { resourceType?: unknown }).resourceType : undefined;
    if (rt !== 'Bundle') throw new AppError('resource-type-mismatch', `POST to the base accepts a Bundle, got ${typeof rt === 'string' ? rt : 'no resourceType'}`, ['resourceType']);
    res.type(FHIR_JSON).send(JSON.stringify(await receiveBundle(receiver, req.site!, body as Bundle, req.traceId!, respondContext(req, config.publicUrl))));
  }));
  r.post('/:type', requireFhirJson, json, ah(single(false)));
  r.put('/:type/:id', requireFhirJson, json, ah(single(true)));
  r.all('*', (req, _res, next) => next(new AppError('method-not-allowed', `${req.method} ${req.baseUrl}${req.path}`)));
  return r;
}

/** Accepts a Bundle's entries (a transaction atomically) and builds the batch-response / transaction-response Bundle. */
export async function receiveBundle(receiver: Receiver, site: SiteConfig, bundle: Bundle, traceId: string, ctx: RespondContext): Promise<Bundle> {
  const container = checkBundleContainer(bundle);
  if (container.length) throw new AppError('invalid-bundle', `${container.length} problem(s) with the Bundle itself`, undefined, container);
  const { type, entries } = bundleEntries(bundle);
  const deleted = entries.map((e) => isHistoryDeletion(type, e));
  const accepted = await receiver.accept(site.id, entries.filter((_, i) => !deleted[i]), { atomic: type === 'transaction', traceId, source: 'bundle' });
  let next = 0;
  const results = entries.map((e, i) => (deleted[i] ? historyDeletionResult(i, e) : accepted[next++]));
  return { resourceType: 'Bundle', type: type === 'transaction' ? 'transaction-response' : 'batch-response', entry: results.map((r) => entryResponse(r, ctx)) };
}
