/**
 * Jest globalTeardown of the `integration` project: stops the Redis +
 * PostgreSQL that global-setup.ts started (and only those; servers given
 * through REDIS_URL/DATABASE_URL are left alone).
 */
import { STARTED_DIR_VAR, stopServices, takeStartedServicesDir } from './global-setup';

export default function globalTeardown(): void {
  const dir = takeStartedServicesDir();
  if (!dir) return;
  delete process.env[STARTED_DIR_VAR];
  stopServices(dir);
}
