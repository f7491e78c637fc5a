// Value parsers for raw inputs: each reads one input (or its default), checks it, and records a
// problem instead of throwing, so that every bad input is reported at once.
import type { InputProblem } from './errors.js';
import { inputSpec, type InputName } from './inputs.js';
import { quote } from './values.js';

/** Reads one raw input by its public name; returns '' when unset. */
export type InputSource = (name: InputName) => string;

export class InputReader {
  readonly problems: InputProblem[] = [];

  constructor(private readonly read: InputSource) {}

  problem(input: InputName, message: string): void {
    this.problems.push({ input, message });
  }

  hasProblem(input: InputName): boolean {
    return this.problems.some((p) => p.input === input);
  }

  /** The trimmed value, or the input's default when it is unset. */
  raw(name: InputName): string {
    const value = this.read(name).trim();
    if (value !== '') return value;
    return (inputSpec(name)?.default ?? '').trim();
  }

  optional(name: InputName, pattern: RegExp, expected: string): string | undefined {
    const value = this.raw(name);
    if (value === '') return undefined;
    if (!pattern.test(value)) this.problem(name, `expected ${expected}, got ${quote(value)}`);
    return value;
  }

  required(name: InputName, pattern: RegExp, expected: string): string {
    const value = this.raw(name);
    if (value === '') this.problem(name, `is required: expected ${expected}`);
    else if (!pattern.test(value)) this.problem(name, `expected ${expected}, got ${quote(value)}`);
    return value;
  }

  oneOf<T extends string>(name: InputName, values: readonly T[]): T {
    const value = this.raw(name);
    if (!(values as readonly string[]).includes(value)) {
      this.problem(name, `expected one of ${values.join(', ')}, got ${quote(value)}`);
    }
    return value as T;
  }

  integer(name: InputName, min: number, max: number): number {
    const value = this.raw(name);
    if (!/^-?\d+$/.test(value)) {
      this.problem(name, `expected a whole number from ${min} to ${max}, got ${quote(value)}`);
      return min;
    }
    const parsed = Number(value);
    if (parsed < min || parsed > max) this.problem(name, `expected a whole number from ${min} to ${max}, got ${value}`);
    return parsed;
  }

  boolean(name: InputName): boolean {
    const value = this.raw(name).toLowerCase();
    if (['true', 'yes', '1', 'on'].includes(value)) return true;
    if (['false', 'no', '0', 'off', ''].includes(value)) return false;
    this.problem(name, `expected true or false, got ${quote(this.raw(name))}`);
    return false;
  }

  /** Items separated by commas or white space, each checked against the pattern. */
  list(name: InputName, pattern: RegExp, expected: string): string[] {
    const items = this.raw(name)
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
    for (const item of items) {
      if (!pattern.test(item)) this.problem(name, `expected ${expected}, got ${quote(item)}`);
    }
    return items;
  }

  path(name: InputName): string {
    const value = this.raw(name);
    if (value.includes('\0')) this.problem(name, 'expected a file path, got a value with a NUL character');
    return value;
  }
}
