import { parsers, variable } from './config';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** What the shell itself is configured with; every service's variables include these. */
export interface ShellConfig {
  logLevel: LogLevel;
  /** Unset: pretty on a terminal, JSON otherwise. */
  logFormat?: LogFormat;
  /** The ops listener (/healthz, /readyz, /metrics); unset: none of its own. */
  opsPort?: number;
  opsHost: string;
  metricsToken?: string;
  shutdownTimeoutMs: number;
}

/** The shell's variables, to spread into a service's schema. `opsPort` is the service's default ops port. */
export function shellVariables(defaults: { opsPort?: number; opsPortShown?: string }) {
  return {
    LOG_LEVEL: variable(parsers.oneOf(LOG_LEVELS), { default: 'info', description: 'pino log level' }),
    LOG_FORMAT: variable(parsers.oneOf(LOG_FORMATS), {
      shown: 'unset: `pretty` on a terminal, `json` otherwise',
      description: '`json`: one ECS (Elastic Common Schema) JSON object per line, for Filebeat; `pretty`: for people',
    }),
    OPS_PORT: variable(parsers.port, {
      ...(defaults.opsPort !== undefined && { default: defaults.opsPort }),
      ...(defaults.opsPortShown !== undefined && { shown: defaults.opsPortShown }),
      description: 'the ops listener: `/healthz`, `/readyz`, `/metrics` (0 picks a free port)',
    }),
    OPS_HOST: variable(parsers.text, { default: '0.0.0.0', description: 'address the ops listener binds to' }),
    METRICS_TOKEN: variable(parsers.secret(16), {
      secret: true,
      shown: 'unset: `/metrics` open',
      description: 'bearer token (≥ 16 characters) `/metrics` then requires (`Authorization: Bearer <token>`)',
    }),
    SHUTDOWN_TIMEOUT_MS: variable(parsers.integer(100, 600_000), {
      default: 10_000,
      description: 'on SIGTERM/SIGINT: stop accepting, drain, close — cut short (exit 1) after this long',
    }),
  };
}

/** Every service of a deployment shares one Redis namespace. */
export const redisKeyPrefixVariable = () =>
  variable(parsers.text, { default: 'concord:', description: 'key namespace in Redis (the same for every service of a deployment)' });

/** The parsed shell variables as the shell takes them. */
export function shellConfigOf(values: {
  LOG_LEVEL: LogLevel;
  LOG_FORMAT?: LogFormat | undefined;
  OPS_PORT?: number | undefined;
  OPS_HOST: string;
  METRICS_TOKEN?: string | undefined;
  SHUTDOWN_TIMEOUT_MS: number;
}): ShellConfig {
  return {
    logLevel: values.LOG_LEVEL,
    ...(values.LOG_FORMAT && { logFormat: values.LOG_FORMAT }),
    ...(values.OPS_PORT !== undefined && { opsPort: values.OPS_PORT }),
    opsHost: values.OPS_HOST,
    ...(values.METRICS_TOKEN && { metricsToken: values.METRICS_TOKEN }),
    shutdownTimeoutMs: values.SHUTDOWN_TIMEOUT_MS,
  };
}
