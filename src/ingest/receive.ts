/**
 * Store-then-queue, the one path every inbound resource takes (HTTP, Bundle;
 * later polling and bulk import): INSERT the rows durably, then enqueue their
 * ids. A Redis outage after the INSERT loses nothing: the rows stay in
 * `received` and the sweeper re-enqueues them (design.md data flow).
 */
import type { Resource } from '@medplum/fhirtypes';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import { metrics } from '../metrics';
import type { MapQueue } from '../queue/map-resource';
import { isTransientDbError, type Db } from '../store/db';
import { insertInbound, type InsertResult, type NewInbound } from '../store/inbound';
import { coalesce } from '../util/coalesce';
import { toInbound } from './normalize';

export interface ReceiveDeps {
  readonly db: Db;
  readonly mapQueue: MapQueue;
  readonly log: Logger;
}

export interface Accepted {
  readonly resource: Resource;
  readonly context: Record<string, unknown> | null;
}

export interface Stored extends InsertResult {
  readonly resourceType: string;
  readonly resourceId: string;
  readonly version: string;
}

/** Rows per merged INSERT and how long a request may wait to share it. */
export const INSERT_GROUP_MAX = 500;
export const INSERT_GROUP_WAIT_MS = 2;

export interface Receiver {
  /** Stores the resources (INSERT, committed) and then queues them; see the module comment. */
  store(site: string, items: readonly Accepted[], traceId: string): Promise<Stored[]>;
}

export function createReceiver(deps: ReceiveDeps): Receiver {
  const insert = coalesce<NewInbound, InsertResult>({
    maxItems: INSERT_GROUP_MAX,
    maxWaitMs: INSERT_GROUP_WAIT_MS,
    run: (rows) => insertInbound(deps.db, rows),
    // A data error (e.g. a string PostgreSQL's jsonb refuses) belongs to one request, not to its neighbours.
    isolate: (e) => !isTransientDbError(e),
  });
  return {
    async store(site, items, traceId) {
      const rows = items.map((i) => toInbound(site, i.resource, i.context));
      let results: InsertResult[];
      try {
        results = await insert(rows);
      } catch (e) {
        if (isTransientDbError(e)) throw new AppError('store-unavailable', (e as Error).message);
        throw e;
      }
      const stored = results.map((r, i) => ({ ...r, resourceType: rows[i].resourceType, resourceId: rows[i].resourceId, version: rows[i].version }));
      stored.forEach((s) => metrics.inboundReceived.inc({ type: s.resourceType, outcome: s.created ? 'created' : 'duplicate' }));
      // New rows, and redelivered rows still waiting (their first enqueue may have failed): processing is idempotent.
      const toQueue = stored.filter((s) => s.created || s.state === 'received').map((s) => s.id);
      try {
        await deps.mapQueue.enqueue(toQueue, traceId);
      } catch (e) {
        deps.log.warn({ err: (e as Error).message, rows: toQueue.length }, 'enqueue failed; rows stay in received for the sweeper');
        throw new AppError('queue-unavailable', `${stored.length} resource(s) stored; processing resumes when the queue is reachable`);
      }
      return stored;
    },
  };
}
