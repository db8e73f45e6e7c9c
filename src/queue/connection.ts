/**
 * Redis connections for BullMQ. Producers fail fast when Redis is down (the
 * HTTP answer is a 503 OperationOutcome, the resource already stored; design.md
 * habit 10); workers wait and reconnect (maxRetriesPerRequest: null, as BullMQ
 * requires for blocking connections).
 */
import IORedis, { type Redis } from 'ioredis';

export function producerConnection(url: string): Redis {
  return new IORedis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false, connectTimeout: 2000 });
}

export function workerConnection(url: string): Redis {
  return new IORedis(url, { maxRetriesPerRequest: null });
}
