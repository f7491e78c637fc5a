import { describe, expect, it } from '@jest/globals';
import { hclString, jsonValue, render, RenderError, shellWord } from '../../src/render.js';

describe('hclString', () => {
  it.each([
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    ['two\nlines', '"two\\nlines"'],
    ['${var.x}', '"$${var.x}"'],
    ['%{ if true }', '"%%{ if true }"'],
    ['$ alone and % alone', '"$ alone and % alone"'],
  ])('escapes %j', (input, expected) => {
    expect(hclString(input)).toBe(expected);
  });

  it('refuses control characters', () => {
    expect(() => hclString('bell\u0007', 'ami_name')).toThrow(/ami_name: control characters/);
  });

  it('refuses objects', () => {
    expect(() => hclString({}, 'tags')).toThrow(RenderError);
  });
});

describe('jsonValue and shellWord', () => {
  it('quotes JSON strings and keeps numbers', () => {
    expect(jsonValue('a"b')).toBe('"a\\"b"');
    expect(jsonValue(8080)).toBe('8080');
    expect(() => jsonValue(Number.NaN)).toThrow(RenderError);
  });
  it('single-quotes shell words', () => {
    expect(shellWord("it's")).toBe(`'it'\\''s'`);
  });
});

describe('render', () => {
  it('renders through escaping helpers', () => {
    expect(render('name = {{hcl name}}\nport = {{json port}}', { name: 'a"b', port: 80 })).toBe('name = "a\\"b"\nport = 80');
  });
  it('refuses a bare value, which would not be escaped', () => {
    expect(() => render('x = {{name}}', { name: 'a' }, 'vars.hbs')).toThrow(/vars.hbs: line 1: \{\{name\}\} must go through an escaping helper/);
  });
  it('refuses a missing value instead of rendering an empty string', () => {
    expect(() => render('x = {{hcl missing}}', {}, 'vars.hbs')).toThrow(/vars.hbs: .*missing/);
  });
  it('supports conditionals and lists', () => {
    expect(render('{{#if on}}a = {{hclList items}}{{/if}}', { on: true, items: ['x', 'y'] })).toBe('a = ["x", "y"]');
  });
});
