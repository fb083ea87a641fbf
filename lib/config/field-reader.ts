import { isLdhLabel, isLdhName } from '../dns/ldh-name.ts';
import { intToIp, ipToInt, isIpv4 } from '../wire/ipv4.ts';
import { didYouMean } from './did-you-mean.ts';

/**
 * The kit configuration readers are written with: each part of a program
 * reads and checks its own section of a file, all of them on one
 * `FieldReader`, so every problem of the file lands in one list, in the
 * file's order.
 */

export type Mapping = Record<string, unknown>;

/** One thing wrong with the configuration: where (`subnets[0].pools[1].start`) and what. */
export interface ConfigIssue {
  path: string;
  problem: string;
}

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

  boolean(value: unknown, path: string): boolean | undefined {
    return typeof value === 'boolean' ? value : this.fail(path, `must be true or false, got ${show(value)}`);
  }

  /** A host or domain name (ldh-name.ts), without the root dot: clients append their host name to option 15 and to search suffixes. */
  dnsName(value: unknown, path: string): string | undefined {
    const name = this.string(value, path);
    if (name === undefined) return undefined;
    if (!isLdhName(name)) {
      return this.fail(path, `must be a DNS name (letters, digits and hyphens, dot-separated labels of 1 to 63), got ${show(name)}`);
    }
    return name.replace(/\.$/, '');
  }

  /** One RFC 1123 label (a host or app name), lower-cased. */
  dnsLabel(value: unknown, path: string): string | undefined {
    const label = this.string(value, path);
    if (label === undefined) return undefined;
    if (!isLdhLabel(label)) {
      return this.fail(path, `must be one DNS label (letters, digits and hyphens, 1 to 63, no hyphen first or last), got ${show(label)}`);
    }
    return label.toLowerCase();
  }

  /** Linux's dev_valid_name(): at most IFNAMSIZ-1 = 15 bytes, no '/', ':' or whitespace, not '.' or '..'. */
  interfaceName(value: unknown, path: string): string | undefined {
    const name = this.string(value, path);
    if (name === undefined) return undefined;
    if (name.length > 15 || /[/:\s]/.test(name) || name === '.' || name === '..') {
      return this.fail(path, `must be a Linux interface name (1 to 15 characters, no "/", ":" or spaces), got ${show(name)}`);
    }
    return name;
  }
}

/** Drops keys whose value is undefined, so optional fields are absent rather than present-but-undefined. */
export function compact<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
