/** What the workbench pages need from the running app (passed in, design.md habit 8). */
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Db } from '../store/db';
import type { TrialSet } from '../protocol/trials';
import type { MappingSet } from '../mapping';

export interface UiDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly db: Db;
  readonly trials: TrialSet;
  readonly mappings: MappingSet;
  readonly timeZoneOf: (site: string) => string;
  /** Registers what must end before the HTTP server can close (live-update streams never end by themselves). */
  readonly onShutdown?: (fn: () => void) => void;
}
