/**
 * Structured JSON logs (pino). Design.md habit 9: log references
 * (Observation/123, LOINC code, rule id), never values, names or birth dates.
 * The redact list is a safety net for accidental object logging.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'trialbridge'): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['*.body', '*.resource', 'req.headers.authorization', 'authorization', '*.valueQuantity', '*.birthDate', '*.name'], censor: '[redacted]' },
    base: { pid: process.pid },
  });
}
