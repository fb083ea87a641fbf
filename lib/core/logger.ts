/**
 * Structured logs: one JSON object per line (for machines and the lab's log
 * files), or a short human-readable line when stdout is a terminal.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** Lifecycle events (ready, stopped) that supervisors wait for: never filtered. */
  always(event: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Human-readable lines instead of JSON (default: when the sink is a TTY). */
  pretty?: boolean;
  write?: (line: string) => void;
}

export function createLogger(opts: LoggerOptions): Logger {
  const min = levelRank[opts.level];
  const pretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  const write = opts.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const emit = (level: LogLevel, event: string, fields: LogFields = {}, force = false) => {
    if (!force && levelRank[level] < min) return;
    const time = new Date().toISOString();
    if (pretty) {
      const rest = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v, jsonReplacer)}`)
        .join(' ');
      write(`${time} ${level.toUpperCase().padEnd(5)} ${event}${rest ? ' ' + rest : ''}`);
    } else {
      write(JSON.stringify({ time, level, event, ...fields }, jsonReplacer));
    }
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    always: (e, f) => emit('info', e, f, true),
    enabled: (level) => levelRank[level] >= min,
  };
}

/** Errors and Buffers have no useful JSON form of their own. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { message: value.message, ...(code !== undefined ? { code } : {}) };
  }
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer') {
    return Buffer.from((value as { data: number[] }).data).toString('hex');
  }
  return value;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  always() {},
  enabled: () => false,
};
