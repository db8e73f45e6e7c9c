/**
 * The review workbench served to browsers under /ui (design.md layout: ui/).
 * Pages are rendered on the server; actions go through the same /api endpoints
 * scripts use, so scope and audit are enforced in one place.
 */
import express, { type Router } from 'express';
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
}

export function uiRouter(_deps: UiDeps): Router {
  const r = express.Router();
  return r;
}
