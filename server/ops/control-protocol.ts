import { FieldReader, type Mapping } from '../../lib/config/field-reader.ts';
import { reasonOf } from '../../lib/core/errors.ts';

/**
 * The control channel's messages, in Kea's shape (Kea ARM, "Management
 * API"): a request `{"command": "...", "arguments": {...}}`, an answer
 * `{"result": N, "text": "...", "arguments": ...}`. Pure: the socket and
 * HTTP edge (server/net/control-endpoint.ts) carries the bytes.
 */

/** Kea's result codes (CONTROL_RESULT_*). */
export const Result = {
  /** The command did what was asked. */
  Success: 0,
  /** It could not: bad arguments, a conflict, a failure; `text` says which. */
  Error: 1,
  /** No such command (Kea's CONTROL_RESULT_COMMAND_UNSUPPORTED). */
  Unsupported: 2,
  /** It ran, and found nothing (no such lease, no such reservation). */
  Empty: 3,
} as const;

export type ResultCode = (typeof Result)[keyof typeof Result];

export interface ControlRequest {
  command: string;
  /** `{}` when the request had none. */
  arguments: Mapping;
}

export interface ControlResponse {
  result: ResultCode;
  text: string;
  arguments?: unknown;
}

/** Keys a request may have: Kea's control agent also takes `service` (which daemons); there is one here, so it is ignored. */
const REQUEST_FIELDS = ['command', 'arguments', 'service'] as const;

export function success(text: string, args?: unknown): ControlResponse {
  return args === undefined ? { result: Result.Success, text } : { result: Result.Success, text, arguments: args };
}

export function failure(text: string, args?: unknown): ControlResponse {
  return args === undefined ? { result: Result.Error, text } : { result: Result.Error, text, arguments: args };
}

export function empty(text: string, args?: unknown): ControlResponse {
  return args === undefined ? { result: Result.Empty, text } : { result: Result.Empty, text, arguments: args };
}

/** Kea's words for it: `'foo' command not supported.` */
export function unsupported(command: string): ControlResponse {
  return { result: Result.Unsupported, text: `'${command}' command not supported.` };
}

/**
 * A request body as received: JSON, a mapping with a string `command` and,
 * if any, a mapping of `arguments`. Anything else is an error response
 * saying what is wrong (result 1), never an exception.
 */
export function parseControlRequest(body: string): { ok: true; request: ControlRequest } | { ok: false; response: ControlResponse } {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (err) {
    return { ok: false, response: failure(`malformed JSON: ${reasonOf(err)}`) };
  }
  const f = new FieldReader();
  const m = f.mapping(raw, '', REQUEST_FIELDS);
  if (m === undefined) return { ok: false, response: failure(`the request ${f.issues[0].problem}`) };
  const command = f.field(m, 'command', '', (v, p) => f.string(v, p), true);
  const args = m.arguments === undefined ? {} : f.mapping(m.arguments, 'arguments', Object.keys(m.arguments ?? {}));
  if (f.issues.length > 0 || command === undefined || args === undefined) {
    return { ok: false, response: failure(f.issues.map((i) => `${i.path}: ${i.problem}`).join('; ')) };
  }
  return { ok: true, request: { command, arguments: args } };
}
