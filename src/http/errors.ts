/**
 * The one error middleware (design.md habit 3): anything thrown becomes an
 * OperationOutcome with the catalogue's status. Body-parser errors are mapped
 * to their catalogue codes; unknown errors are logged and become a generic 500
 * (no internals leak to the sender).
 */
import type { NextFunction, Request, Response } from 'express';
import { AppError, appErrorOutcome, outcomeFor } from '../errors';
import type { Logger } from '../logger';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

function fromBodyParser(err: { type?: string; status?: number; message?: string }): AppError | null {
  switch (err.type) {
    case 'entity.parse.failed':
      return new AppError('not-json', err.message);
    case 'entity.too.large':
      return new AppError('body-too-large', err.message);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('unsupported-media-type', err.message);
    default:
      return null;
  }
}

export function errorMiddleware(log: Logger) {
  // express recognises error middleware by its four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const app = err instanceof AppError ? err : fromBodyParser(err as { type?: string });
    if (app) {
      if (app.status >= 500) log.warn({ code: app.code, path: req.path, trace: req.traceId }, app.message);
      res.status(app.status).type(FHIR_JSON).send(JSON.stringify(appErrorOutcome(app)));
      return;
    }
    log.error({ err: (err as Error)?.stack ?? String(err), path: req.path, trace: req.traceId }, 'unhandled error');
    res.status(500).type(FHIR_JSON).send(JSON.stringify(outcomeFor('internal', `trace ${req.traceId ?? ''}`.trim())));
  };
}
