/** Prometheus metrics (prom-client), served on GET /metrics. Labels never carry PHI. */
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

export const metrics = {
  inboundReceived: new client.Counter({ name: 'trialbridge_inbound_received_total', help: 'Resources received', labelNames: ['type', 'outcome'] as const, registers: [registry] }),
  inboundProcessed: new client.Counter({ name: 'trialbridge_inbound_processed_total', help: 'Inbound rows processed by the map worker, by resulting state', labelNames: ['state'] as const, registers: [registry] }),
  siteErrors: new client.Counter({ name: 'trialbridge_site_errors_total', help: 'Failed requests to site FHIR servers, by site and kind', labelNames: ['site', 'kind'] as const, registers: [registry] }),
  purged: new client.Counter({ name: 'trialbridge_purged_total', help: 'Resources of never-enrolled patients purged after the retention', labelNames: ['site', 'type'] as const, registers: [registry] }),
  unmappedObservations: new client.Counter({ name: 'trialbridge_unmapped_observations_total', help: 'Observations whose codes no trial maps (counted per code in GET /api/unmapped-codes, no review item)', labelNames: ['site'] as const, registers: [registry] }),
  jobsFailed: new client.Counter({ name: 'trialbridge_jobs_failed_total', help: 'Jobs that failed permanently (no attempt left, or unrecoverable), by queue: an operator alert', labelNames: ['queue'] as const, registers: [registry] }),
  mapJobSeconds: new client.Histogram({ name: 'trialbridge_map_job_seconds', help: 'Duration of map-resource jobs', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
};
