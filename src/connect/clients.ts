/** One SiteClient per site per process, so a site's SMART token is cached and shared by all its jobs. */
import type { SiteConfig } from '../config';
import type { Logger } from '../logger';
import { createSiteClient } from './client';
import type { SiteClient } from './types';

export function siteClients(log: Logger): (site: SiteConfig) => SiteClient {
  const clients = new Map<string, SiteClient>();
  return (site) => {
    if (!site.fhir) throw new Error(`site ${site.id} has no FHIR server configured`);
    let c = clients.get(site.id);
    if (!c) clients.set(site.id, (c = createSiteClient({ id: site.id, fhir: site.fhir }, { log: log.child({ site: site.id }) })));
    return c;
  };
}
