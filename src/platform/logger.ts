import { AsyncLocalStorage } from 'node:async_hooks';
import winston from 'winston';
import type { Config } from './config.js';

export type Logger = winston.Logger;

/** Fields every log line written inside a request or job carries, without threading a logger through calls. */
export interface LogContext {
  requestId?: string;
  jobId?: string;
  queue?: string;
  job?: string;
}

const contextStore = new AsyncLocalStorage<LogContext>();

export function withLogContext<T>(context: LogContext, run: () => T): T {
  return contextStore.run({ ...contextStore.getStore(), ...context }, run);
}

const injectContext = winston.format((info) => Object.assign(info, contextStore.getStore()));

/** CLIs pass `toStderr` so their stdout carries only their own output (e.g. `--json`). */
export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>, role: string, toStderr = false): Logger {
  const format =
    config.LOG_FORMAT === 'pretty'
      ? winston.format.combine(
          injectContext(),
          winston.format.colorize(),
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.printf(({ timestamp, level, message, role: _role, ...rest }) => {
            const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
            return `${String(timestamp)} ${level} ${String(message)}${extra}`;
          }),
        )
      : winston.format.combine(
          injectContext(),
          winston.format.errors({ stack: true }),
          winston.format.timestamp(),
          winston.format.json(),
        );
  return winston.createLogger({
    level: config.LOG_LEVEL,
    defaultMeta: { role },
    format,
    transports: [new winston.transports.Console(toStderr ? { stderrLevels: Object.keys(winston.config.npm.levels) } : {})],
  });
}

/** Error objects do not survive JSON.stringify; log their message and stack explicitly. */
export function errorFields(error: unknown): { error: string; stack?: string } {
  if (error instanceof Error) return { error: error.message, stack: error.stack };
  return { error: String(error) };
}
