import { ecsFormat } from '@elastic/ecs-pino-format';
import pino, { type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import type { LogFormat, LogLevel } from './shell-config';

export interface LoggerOptions {
  /** ECS `service.name`: api, signaling, sfu, concord (the single process). */
  service: string;
  /** ECS `service.node.name`: this process among the service's instances. */
  nodeId: string;
  level: LogLevel;
  /** Unset: pretty when stdout is a terminal, JSON otherwise. */
  format?: LogFormat;
  /** Where lines go; default stdout. Tests capture them here. */
  destination?: DestinationStream;
}

const CENSOR = '[redacted]';

/**
 * Keys whose values are secrets wherever a log call puts them, at the top level or one object down:
 * bearer tokens, cookies, passwords, session and grant JWTs. Request logs carry no headers at all
 * (see httpLogger); this is the net under every other log call.
 */
const SECRET_KEYS = ['authorization', 'cookie', 'password', 'token', 'accessToken', 'refreshToken', 'grant', 'secret', 'metricsToken', 'sfuSecret'];
export const REDACTED_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
];

/**
 * The one pino setup of every service: JSON lines in Elastic Common Schema shape (`@timestamp`,
 * `log.level`, `message`, `service.name`, `service.node.name`, `error.*`) for Filebeat, or pretty
 * lines for a person at a terminal (`npm start`).
 */
export function createLogger(options: LoggerOptions): Logger {
  const format = options.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const redact = { paths: REDACTED_PATHS, censor: CENSOR };
  if (format === 'pretty') {
    const pretty = pinoPretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', ...(options.destination && { destination: options.destination }) });
    return pino({ level: options.level, base: { service: options.service }, redact }, pretty);
  }
  return pino(
    {
      ...ecsFormat({ apmIntegration: false, convertErr: true, serviceName: options.service, serviceNodeName: options.nodeId }),
      level: options.level,
      redact,
    },
    options.destination ?? pino.destination({ sync: true }),
  );
}
