/** Async express handlers: a rejected promise goes to the one error middleware (errors.ts). */
import type { NextFunction, Request, Response } from 'express';

export type Handler = (req: Request, res: Response) => Promise<void>;

/** Wraps an async handler so its rejection reaches `next` (express 4 does not catch promises). */
export const ah = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => fn(req, res).catch(next);
