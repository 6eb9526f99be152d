import winston from 'winston';
import type { Logger } from '../../src/platform/logger.js';

/** Tests assert on behaviour, not log lines; keep their output readable. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
}
