import { isAbsolute, join } from 'node:path';
import type { LogLevel } from '../../lib/core/logger.ts';
import { isLdhLabel } from '../../lib/dns/ldh-name.ts';
import { MAC_SCHEMES, IPV6_MODES, OPERATIONS, type OperationRequest } from './requests.ts';

/**
 * The CLI ↔ `agent watch` control protocol. A running `agent watch` listens
 * on a unix socket in its run directory; a one-shot command sends it the
 * operation it parsed (`{op, request}`, core/requests.ts) and gets back the
 * typed result, which the CLI prints as it would its own. The daemon has
 * Node warmed up and the Docker client loaded, so the command costs its
 * work, not half a second of loading modules in a new process. What the
 * daemon must not do for this CLI (it runs in other namespaces, or talks to
 * another Docker engine) is answered "run it yourself", and the CLI does;
 * so does a CLI that finds no daemon.
 *
 * Pure: the messages and their checks, no sockets (io/control-*.ts).
 */

export const PROTOCOL_VERSION = 2;
export const CONTROL_SOCKET_NAME = 'agent.sock';
export const DEFAULT_RUN_DIR = '/run/leasehold/agent';
/** A request is one JSON line; an operation never needs more. */
export const MAX_REQUEST_BYTES = 64 * 1024;
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export type ControlRequest = OperationRequest & {
  version: typeof PROTOCOL_VERSION;
  /** The CLI's network and mount namespaces (readlink /proc/self/ns/*): the daemon serves only its own. */
  netns: string;
  mntns: string;
  /** The Docker engine the CLI would talk to (option, else $DOCKER_SOCKET, else the default), absolute. */
  dockerSocket: string;
  /** The command's log lines, as the CLI would write them to its stderr. */
  log: { level: LogLevel; pretty: boolean };
};

export type ControlResponse =
  | { version: typeof PROTOCOL_VERSION; kind: 'result'; result: unknown; stderr: string }
  | { version: typeof PROTOCOL_VERSION; kind: 'failed'; message: string; stderr: string }
  | { version: typeof PROTOCOL_VERSION; kind: 'invalid'; problem: string }
  | { version: typeof PROTOCOL_VERSION; kind: 'run-locally'; reason: string };

export function controlSocketPath(runDir: string): string {
  return join(runDir, CONTROL_SOCKET_NAME);
}

// ---------------------------------------------------------------------------
// Checks: each names the field and the problem.

type Check = (value: unknown) => string | undefined;

const nonEmptyString: Check = (v) => (typeof v === 'string' && v !== '' ? undefined : 'not a non-empty string');
const anyString: Check = (v) => (typeof v === 'string' ? undefined : 'not a string');
const dnsLabel: Check = (v) => (typeof v === 'string' && isLdhLabel(v) ? undefined : 'not a DNS label (letters, digits and inner hyphens, at most 63)');
const boolean: Check = (v) => (typeof v === 'boolean' ? undefined : 'not a boolean');
const absolutePath: Check = (v) => (typeof v === 'string' && isAbsolute(v) ? undefined : 'not an absolute path');
const positiveNumber: Check = (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? undefined : 'not a positive number');
const oneOf = (choices: readonly string[]): Check => (v) =>
  typeof v === 'string' && choices.includes(v) ? undefined : `not one of ${choices.join(', ')}`;

interface FieldRule {
  check?: Check;
  /** A nested object, checked field by field. */
  fields?: Record<string, FieldRule>;
  optional?: boolean;
}

/**
 * Checks an object against its fields: each present one by its rule, the
 * required ones present, no others. Problems name the field by its path
 * (`request.timeoutMs`); `where` is that path's start ('' at the top).
 */
function checkFields(value: unknown, where: string, rules: Record<string, FieldRule>): string | undefined {
  const at = (field: string) => (where ? `${where}.${field}` : field);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${where || 'message'}: not an object`;
  const record = value as Record<string, unknown>;
  for (const [field, rule] of Object.entries(rules)) {
    if (record[field] === undefined) {
      if (!rule.optional) return `${at(field)}: missing`;
      continue;
    }
    if (rule.fields) {
      const problem = checkFields(record[field], at(field), rule.fields);
      if (problem) return problem;
    }
    const problem = rule.check?.(record[field]);
    if (problem) return `${at(field)}: ${problem}`;
  }
  const unknown = Object.keys(record).find((k) => !(k in rules) && record[k] !== undefined);
  return unknown === undefined ? undefined : `${at(unknown)}: not a field of this message`;
}

const TARGET_RULES: Record<string, FieldRule> = {
  container: { check: nonEmptyString, optional: true },
  netns: { check: nonEmptyString, optional: true },
};

const CNI_KEY_RULES: Record<string, FieldRule> = {
  network: { check: nonEmptyString },
  containerId: { check: nonEmptyString },
  ifname: { check: nonEmptyString },
};

const stringList: Check = (v) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : 'not a list of strings');

function checkOneTarget(value: Record<string, unknown>, where: string): string | undefined {
  return (value.container === undefined) === (value.netns === undefined) ? `${where}: give container or netns (one of them)` : undefined;
}

const REQUEST_RULES: Record<OperationRequest['op'], (request: unknown) => string | undefined> = {
  attach: (request) =>
    checkFields(request, 'request', {
      ...TARGET_RULES,
      bridge: { check: nonEmptyString },
      bridgeNetns: { check: nonEmptyString, optional: true },
      ifname: { check: nonEmptyString },
      mac: { check: anyString, optional: true },
      macScheme: { check: oneOf(MAC_SCHEMES) },
      workerIp: { check: anyString, optional: true },
      app: { check: anyString, optional: true },
      defaultApp: { check: anyString, optional: true },
      ipv6: { check: oneOf(IPV6_MODES) },
      waitIpv6: { check: boolean },
      timeoutMs: { check: positiveNumber },
      resolvConf: { check: absolutePath, optional: true },
    }) ?? checkOneTarget(request as Record<string, unknown>, 'request'),
  detach: (request) => checkFields(request, 'request', TARGET_RULES) ?? checkOneTarget(request as Record<string, unknown>, 'request'),
  inspect: (request) => {
    const problem = checkFields(request, 'request', { ...TARGET_RULES, all: { check: boolean } });
    if (problem) return problem;
    const r = request as Record<string, unknown>;
    if (r.all) return r.container !== undefined || r.netns !== undefined ? 'request: all takes no container or netns' : undefined;
    return checkOneTarget(r, 'request');
  },
  gc: (request) => checkFields(request, 'request', {}),
  'cni-add': (request) =>
    checkFields(request, 'request', {
      ...CNI_KEY_RULES,
      netnsPath: { check: absolutePath },
      bridge: { check: nonEmptyString },
      bridgeNetns: { check: nonEmptyString, optional: true },
      mac: { check: anyString, optional: true },
      macScheme: { check: oneOf(MAC_SCHEMES) },
      app: { check: anyString, optional: true },
      hostname: { check: dnsLabel, optional: true },
      ipv6: { check: oneOf(IPV6_MODES) },
      waitIpv6: { check: boolean },
      timeoutMs: { check: positiveNumber },
    }),
  'cni-del': (request) => checkFields(request, 'request', CNI_KEY_RULES),
  'cni-check': (request) =>
    checkFields(request, 'request', { ...CNI_KEY_RULES, mac: { check: anyString, optional: true }, ips: { check: stringList } }),
  'cni-list': (request) => checkFields(request, 'request', { network: { check: nonEmptyString } }),
  'cni-status': (request) =>
    checkFields(request, 'request', { bridge: { check: nonEmptyString }, bridgeNetns: { check: nonEmptyString, optional: true } }),
};

/** Checks a request line from the socket; returns the problem, or the request. */
export function parseRequest(line: string): ControlRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const r = value as Record<string, unknown>;
  if (r.version !== PROTOCOL_VERSION) return `version ${JSON.stringify(r.version)}, expected ${PROTOCOL_VERSION}`;
  if (typeof r.op !== 'string' || !(OPERATIONS as readonly string[]).includes(r.op)) {
    return `op: ${JSON.stringify(r.op)} is not an operation the daemon serves (${OPERATIONS.join(', ')})`;
  }
  const problem =
    checkFields(value, '', {
      version: {},
      op: {},
      request: {},
      netns: { check: nonEmptyString },
      mntns: { check: nonEmptyString },
      dockerSocket: { check: absolutePath },
      log: { fields: { level: { check: oneOf(LOG_LEVELS) }, pretty: { check: boolean } } },
    }) ?? REQUEST_RULES[r.op as OperationRequest['op']](r.request);
  if (problem) return problem;
  return value as ControlRequest;
}

/** Checks the daemon's answer (the CLI trusts nothing it did not check either). */
export function parseResponse(text: string): ControlResponse | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (r.version !== PROTOCOL_VERSION) return undefined;
  const ok =
    (r.kind === 'result' && typeof r.result === 'object' && r.result !== null && typeof r.stderr === 'string') ||
    (r.kind === 'failed' && typeof r.message === 'string' && typeof r.stderr === 'string') ||
    (r.kind === 'invalid' && typeof r.problem === 'string') ||
    (r.kind === 'run-locally' && typeof r.reason === 'string');
  return ok ? (value as ControlResponse) : undefined;
}
