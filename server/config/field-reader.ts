import { intToIp, ipToInt, isIpv4 } from '../../lib/wire/ipv4.ts';
import type { ConfigIssue } from './config-error.ts';
import { didYouMean } from './did-you-mean.ts';

export type Mapping = Record<string, unknown>;

/** Path of a field or list item, the way operators read it: `subnets[0].pools[1].start`. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** A value as it appears in the file, for "got …" in messages. */
export function show(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'nothing';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

/**
 * Reads untyped parsed YAML/JSON one field at a time. A reader that finds a
 * problem records it and returns undefined, so the caller skips the checks
 * that depend on that value and validation carries on: every problem in the
 * file is reported in one go.
 */
export class FieldReader {
  readonly issues: ConfigIssue[] = [];

  fail(path: string, problem: string): undefined {
    this.issues.push({ path, problem });
    return undefined;
  }

  /**
   * `m[key]` read by `read`. Absent (or YAML's empty value, null) gives
   * undefined, which is an issue only when `required`.
   */
  field<T>(
    m: Mapping,
    key: string,
    path: string,
    read: (value: unknown, path: string) => T | undefined,
    required = false,
  ): T | undefined {
    const value = m[key];
    const p = at(path, key);
    if (value === undefined || value === null) return required ? this.fail(p, 'is required') : undefined;
    return read(value, p);
  }

  /** A mapping whose keys are all in `known`; a stray key is most often a typo, so suggest the likely one. */
  mapping(value: unknown, path: string, known: readonly string[]): Mapping | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return this.fail(path || '(top level)', `must be a mapping, got ${show(value)}`);
    }
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const hint = didYouMean(key, known);
      this.fail(at(path, key), `unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
    }
    return value as Mapping;
  }

  list(value: unknown, path: string, nonEmpty: boolean): unknown[] | undefined {
    if (!Array.isArray(value)) return this.fail(path, `must be a list, got ${show(value)}`);
    if (nonEmpty && value.length === 0) return this.fail(path, 'must list at least one item');
    return value;
  }

  /** A non-empty list whose items are all read by `read`; undefined if any item is bad. */
  listOf<T>(value: unknown, path: string, read: (item: unknown, path: string) => T | undefined): T[] | undefined {
    const items = this.list(value, path, true);
    if (items === undefined) return undefined;
    const out = items.map((item, i) => read(item, at(path, i)));
    return out.every((v) => v !== undefined) ? (out as T[]) : undefined;
  }

  string(value: unknown, path: string): string | undefined {
    if (typeof value !== 'string' || value.length === 0) return this.fail(path, `must be a non-empty string, got ${show(value)}`);
    return value;
  }

  integer(value: unknown, path: string, min: number, max: number): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      return this.fail(path, `must be an integer from ${min} to ${max}, got ${show(value)}`);
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, choices: readonly T[]): T | undefined {
    if (!choices.includes(value as T)) {
      return this.fail(path, `must be one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${show(value)}`);
    }
    return value as T;
  }

  /** A dotted-quad IPv4 address, returned in canonical form. */
  ipv4(value: unknown, path: string): string | undefined {
    if (typeof value !== 'string' || !isIpv4(value)) return this.fail(path, `must be an IPv4 address, got ${show(value)}`);
    return intToIp(ipToInt(value));
  }
}
