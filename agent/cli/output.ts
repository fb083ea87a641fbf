import type { InspectJson } from '../core/attachment.ts';

/**
 * What the CLI prints, whoever did the work (the CLI itself, or `agent
 * watch` for it): the result as JSON (--json, or stdout not a terminal) or
 * for people, and a failure as one line. Loaded on every command: it
 * imports nothing but a type.
 */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
  };
}

export function printResult(io: CliIo, value: unknown, json: boolean): void {
  io.stdout(((json || !io.stdoutIsTTY) ? JSON.stringify(value, null, 2) : formatInspect(value)) + '\n');
}

/** The one line an operational failure prints (exit code 1). */
export function failureLine(message: string): string {
  return `agent: ${message}\n`;
}

/** Human output on a terminal: one block per attachment, fields aligned. */
export function formatInspect(value: unknown): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '(nothing attached)';
    if (isInspect(value[0])) return value.map((v) => formatOne(v as InspectJson)).join('\n\n');
    return value.map((v) => Object.values(v as Record<string, unknown>).join(' ')).join('\n');
  }
  return isInspect(value) ? formatOne(value) : JSON.stringify(value, null, 2);
}

function isInspect(v: unknown): v is InspectJson {
  return typeof v === 'object' && v !== null && 'NetworkSettings' in v;
}

function formatOne(j: InspectJson): string {
  const n = j.NetworkSettings;
  const rows: [string, string][] = [
    ['container', `${j.Container} (${j.Name})`],
    ['mac', n.HWAddr],
    ['bridge', `${n.Bridge} via ${n.HostVeth}`],
    ['ipv4', n.IPAddress ? `${n.IPAddress}/${n.IPPrefixLen} gw ${n.Gateway || '-'}` : '(no lease)'],
    ['ipv6', n.GlobalIPv6Address ? `${n.GlobalIPv6Address}/${n.GlobalIPv6PrefixLen}` : '-'],
    ['dns', n.DNS.join(', ') || '-'],
    ['fqdn', n.FQDN],
    ['lease until', n.LeaseExpires || '-'],
    ['dhcp client', n.DHCP_PID ? `pid ${n.DHCP_PID}` : 'not running'],
  ];
  return rows.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n');
}
