import path from 'node:path';
import { z } from 'zod';
import { keyRingProblem } from './credential-vault.js';

/** The only module that reads `process.env`: everything else receives a validated `Config`. */

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().positive();

const urlWithProtocols = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const logLevels = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: port.default(3000),
  /** Public base URL printed for clients; derived from HOST/PORT when unset. */
  PUBLIC_URL: urlWithProtocols(['http:', 'https:']).optional(),
  DATABASE_URL: urlWithProtocols(['postgres:', 'postgresql:']).optional(),
  DATABASE_POOL_MAX: positiveInt.default(10),
  REDIS_URL: urlWithProtocols(['redis:', 'rediss:']).optional(),
  /** Prefix of every Redis key the hub owns (queues included), so several hubs or test runs can share one Redis. */
  REDIS_PREFIX: z.string().regex(/^[a-zA-Z0-9:_-]{1,64}$/, 'letters, digits, ":", "_" or "-" only').default('pulse'),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  /** `pretty` is meant for a developer's terminal; everything else should ship JSON lines. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** Where zero-config mode keeps Postgres and Redis data, and where backups go by default. */
  DATA_DIR: z.string().min(1).default('.data'),
  REDIS_SERVER_BIN: z.string().min(1).default('redis-server'),
  /** pg_dump of the server's major version (refused otherwise), e.g. /usr/lib/postgresql/15/bin/pg_dump. */
  PG_DUMP_BIN: z.string().min(1).default('pg_dump'),
  /** pg_restore; by default the one beside PG_DUMP_BIN (or on PATH when PG_DUMP_BIN is a bare name). */
  PG_RESTORE_BIN: z.string().min(1).optional(),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(15_000),
  READINESS_TIMEOUT_MS: positiveInt.default(1_000),
  /** Cron pattern for the scheduled database backup; "off" disables the schedule. */
  BACKUP_CRON: z
    .string()
    .regex(/^(off|(\S+\s+){4,5}\S+)$/, 'a 5- or 6-field cron pattern, or "off"')
    .default('0 3 * * *'),
  BACKUP_DIR: z.string().min(1).optional(),
  /** Retention by generations of verified backups (like restic's `forget --keep-*`): the newest of each of the last N days, ISO weeks and months (UTC). */
  BACKUP_KEEP_DAILY: z.coerce.number().int().min(0).default(7),
  BACKUP_KEEP_WEEKLY: z.coerce.number().int().min(0).default(4),
  BACKUP_KEEP_MONTHLY: z.coerce.number().int().min(0).default(6),
  /** The newest N verified backups are kept besides the generations (formerly "keep the newest N files"). */
  BACKUP_RETAIN: positiveInt.default(1),

  JWT_ALGORITHM: z.enum(['HS256', 'EdDSA', 'RS256']).default('HS256'),
  /** HS256 key. Unset outside production: generated once and kept in DATA_DIR/jwt-secret. */
  JWT_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  /** PEM keys for EdDSA / RS256 (PKCS#8 private, SPKI public); `\n` escapes are accepted. */
  JWT_PRIVATE_KEY: z.string().optional(),
  JWT_PUBLIC_KEY: z.string().optional(),
  JWT_ISSUER: z.string().min(1).default('pulse-hub'),
  ACCESS_TOKEN_TTL_SECONDS: positiveInt.default(15 * 60),
  REFRESH_TOKEN_TTL_SECONDS: positiveInt.default(30 * 24 * 60 * 60),

  RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: positiveInt.default(10),
  RATE_LIMIT_REFRESH_PER_SECOND: positiveInt.default(1),
  RATE_LIMIT_USER_PER_SECOND: positiveInt.default(10),
  RATE_LIMIT_USER_BURST: positiveInt.default(20),
  RATE_LIMIT_TENANT_PER_SECOND: positiveInt.default(1000),

  /** How long per-user updates stay available to `sync`; a client further behind reloads its snapshot. */
  USER_UPDATES_RETENTION_DAYS: positiveInt.default(7),
  /** A signal is fused at most once per this many milliseconds (always once more after its last reading). */
  FUSION_MIN_INTERVAL_MS: positiveInt.default(250),
  /** How long fused history (for charts) and raw signal readings are kept. */
  SIGNAL_HISTORY_RETENTION_DAYS: positiveInt.default(7),
  /** How often each worker compares Postgres with Redis, handing over again what Redis lost. */
  RECONCILE_INTERVAL_MS: positiveInt.default(5_000),
  /** An event relayed this long ago and still not applied is checked: re-queued if Redis lost its job. */
  OUTBOX_REDELIVER_AFTER_SECONDS: positiveInt.default(60),
  /** Stored updates not confirmed as handed to the hubs after this long are pushed again. */
  PUSH_REDELIVER_AFTER_SECONDS: positiveInt.default(10),
  /** How often the daily-mission sweep assigns missions to recently active users whose local day began. */
  MISSION_SWEEP_MINUTES: positiveInt.default(15),
  /** Client events a socket may send: sustained per second, and short bursts. */
  SOCKET_EVENTS_PER_SECOND: positiveInt.default(20),
  SOCKET_EVENTS_BURST: positiveInt.default(40),
  /** Sockets one user may hold at once across every hub node; the newest beyond it is refused. */
  SOCKET_MAX_PER_USER: positiveInt.default(10),

  /** Comma-separated origins allowed to call the API from a browser; empty allows none. */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean)),
  /** Key of the HMAC behind mystery box rolls. Unset outside production: generated once and kept in DATA_DIR/box-secret. */
  BOX_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  /** The operator's credential for /admin/queues (queues span tenants). Unset outside production: generated once and kept in DATA_DIR/operator-token. */
  OPERATOR_TOKEN: z.string().min(32, 'at least 32 characters').optional(),

  /**
   * Key ring sealing integration secrets (AES-256-GCM): one base64 32-byte key, or `id:base64,...`
   * with the current key first (older ones still decrypt until `npm run credentials:rotate`).
   * Unset outside production: generated once and kept in DATA_DIR/credentials-key.
   */
  CREDENTIALS_KEY: z
    .string()
    .superRefine((value, ctx) => {
      const problem = keyRingProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /** Whether a connection's settings may point a provider's URLs elsewhere (`baseUrls`, for simulators and sandboxes). Default: everywhere but production. */
  INTEGRATIONS_ALLOW_CUSTOM_URLS: z.stringbool().optional(),
  /** An access token expiring sooner than this (seconds) is refreshed before use. */
  INTEGRATIONS_REFRESH_MARGIN_SECONDS: z.coerce.number().int().min(0).default(300),
  /** Token refreshes failing this many times in a row leave the connection `needs_reauth`. */
  INTEGRATIONS_REFRESH_MAX_FAILURES: positiveInt.default(5),
  /** Records asked per page of a provider (each provider caps it at its own maximum). */
  INTEGRATIONS_PAGE_SIZE: z.coerce.number().int().min(1).max(250).default(100),
  /** A connection's first sync imports records from this many days back, unless its settings name `backfillFrom`. */
  INTEGRATIONS_BACKFILL_DAYS: positiveInt.default(90),
  /** The longest a provider's Retry-After is honoured as given (longer ones are capped; jitter adds up to 20 %). */
  INTEGRATIONS_RETRY_AFTER_MAX_SECONDS: positiveInt.default(300),
  /** Consecutive 5xx/timeouts that open a provider's circuit breaker. */
  INTEGRATIONS_CIRCUIT_FAILURES: positiveInt.default(5),
  /** How long an open circuit fails syncs fast before one trial call (half-open). */
  INTEGRATIONS_CIRCUIT_HALF_OPEN_MS: positiveInt.default(30_000),
  /** A running sync renews its lease on the connection after each page; one silent this long may be taken over. */
  INTEGRATIONS_SYNC_LEASE_SECONDS: positiveInt.default(120),

  /** `1`: zero-config `npm start` also feeds the demo tenant a little synthetic traffic (as `npm run demo` does), so the dashboard is alive at once. */
  PULSE_DEMO_DATA: z.stringbool().default(false),
  /** Fixes the zero-config demo tenant's API key (otherwise generated on first start). */
  PULSE_DEMO_API_KEY: z.string().regex(/^phk_[0-9a-f]{32}_[\w-]{43}$/, 'an API key as printed by tenant:create').optional(),
}).superRefine((config, ctx) => {
  if (!config.BOX_SECRET && config.NODE_ENV === 'production') {
    ctx.addIssue({ code: 'custom', path: ['BOX_SECRET'], message: 'required in production (box rolls are derived from it)' });
  }
  if (!config.CREDENTIALS_KEY && config.NODE_ENV === 'production') {
    ctx.addIssue({ code: 'custom', path: ['CREDENTIALS_KEY'], message: 'required in production (it seals the integrations\' secrets)' });
  }
  if (!config.OPERATOR_TOKEN && config.NODE_ENV === 'production') {
    ctx.addIssue({ code: 'custom', path: ['OPERATOR_TOKEN'], message: 'required in production (it guards the queue admin UI at /admin/queues)' });
  }
  if (config.JWT_ALGORITHM === 'HS256') {
    if (!config.JWT_SECRET && config.NODE_ENV === 'production') {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'required in production with JWT_ALGORITHM=HS256' });
    }
    return;
  }
  for (const variable of ['JWT_PRIVATE_KEY', 'JWT_PUBLIC_KEY'] as const) {
    if (!config[variable]) {
      ctx.addIssue({ code: 'custom', path: [variable], message: `required with JWT_ALGORITHM=${config.JWT_ALGORITHM}` });
    }
  }
});

type RawConfig = z.infer<typeof configSchema>;

export type Config = Omit<RawConfig, 'BACKUP_DIR' | 'LOG_FORMAT' | 'INTEGRATIONS_ALLOW_CUSTOM_URLS'> & {
  BACKUP_DIR: string;
  LOG_FORMAT: 'json' | 'pretty';
  INTEGRATIONS_ALLOW_CUSTOM_URLS: boolean;
};

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(
      `Invalid configuration:\n${issues.map((issue) => `  ${issue.variable}: ${issue.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** Parses configuration from an environment map; throws `ConfigError` naming each bad variable. */
export function parseConfig(env: Record<string, string | undefined>, isTty = false): Config {
  // An empty variable (`PORT=`) means "unset", as shells and .env files produce them.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = configSchema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({ variable: issue.path.join('.'), message: issue.message })),
    );
  }
  const raw = result.data;
  return {
    ...raw,
    DATA_DIR: path.resolve(raw.DATA_DIR),
    BACKUP_DIR: path.resolve(raw.BACKUP_DIR ?? path.join(raw.DATA_DIR, 'backups')),
    LOG_FORMAT: raw.LOG_FORMAT ?? (raw.NODE_ENV === 'development' && isTty ? 'pretty' : 'json'),
    INTEGRATIONS_ALLOW_CUSTOM_URLS: raw.INTEGRATIONS_ALLOW_CUSTOM_URLS ?? raw.NODE_ENV !== 'production',
  };
}

/** EX_CONFIG from sysexits.h: the process was configured wrongly, and retrying will not help. */
export const EXIT_CONFIG = 78;

/** Reads the process environment once at start; a bad value stops the process with a message naming the variable. */
export function loadConfig(): Config {
  try {
    return parseConfig(process.env, process.stdout.isTTY);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\nSee .env.example for every variable and its default.\n`);
    process.exit(EXIT_CONFIG);
  }
}
