// Handlebars with no HTML escaping: every value goes through a helper that escapes for the target
// language (HCL, JSON, shell), and a value that cannot be written safely is refused.
import Handlebars from 'handlebars';

export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenderError';
  }
}

/** Control characters other than tab and newline have no business in templates' values. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** An HCL quoted string literal: quotes, backslashes and newlines escaped, `${` and `%{` made literal. */
export function hclString(value: unknown, label = 'value'): string {
  const text = scalar(value, label);
  if (UNSAFE_CONTROL.test(text)) throw new RenderError(`${label}: control characters cannot be written into HCL`);
  const escaped = text
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\t/g, '\\t')
    // Function replacements: in a replacement string `$$` would mean one `$`.
    .replace(/\$\{/g, () => '$${')
    .replace(/%\{/g, () => '%%{');
  return `"${escaped}"`;
}

/** A JSON value: strings quoted and escaped, numbers and booleans as they are, objects and arrays serialized. */
export function jsonValue(value: unknown, label = 'value'): string {
  if (value === undefined) throw new RenderError(`${label}: has no value`);
  if (typeof value === 'number' && !Number.isFinite(value)) throw new RenderError(`${label}: ${value} is not a JSON number`);
  return JSON.stringify(value);
}

/** A POSIX shell word in single quotes. */
export function shellWord(value: unknown, label = 'value'): string {
  const text = scalar(value, label);
  if (text.includes('\0') || UNSAFE_CONTROL.test(text)) throw new RenderError(`${label}: control characters cannot be written into a shell script`);
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function scalar(value: unknown, label: string): string {
  if (value === undefined || value === null) throw new RenderError(`${label}: has no value`);
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new RenderError(`${label}: expected a string, number or boolean, got ${Array.isArray(value) ? 'an array' : typeof value}`);
}

/** Names of helper arguments by position (line:column), so errors name the template value. */
let argumentNames = new Map<string, string>();

function helperLabel(options: Handlebars.HelperOptions | undefined): string {
  const start = (options as unknown as { loc?: { start?: { line?: number; column?: number } } } | undefined)?.loc?.start;
  if (!start?.line) return 'template value';
  const name = argumentNames.get(`${start.line}:${start.column ?? 0}`);
  return name ? `{{${name}}} (line ${start.line})` : `line ${start.line}`;
}

function makeEnvironment(): typeof Handlebars {
  const hbs = Handlebars.create();
  hbs.registerHelper('hcl', (value: unknown, options: Handlebars.HelperOptions) => hclString(value, helperLabel(options)));
  hbs.registerHelper('hclList', (value: unknown, options: Handlebars.HelperOptions) => {
    if (!Array.isArray(value)) throw new RenderError(`${helperLabel(options)}: expected a list`);
    return `[${value.map((v) => hclString(v, helperLabel(options))).join(', ')}]`;
  });
  hbs.registerHelper('json', (value: unknown, options: Handlebars.HelperOptions) => jsonValue(value, helperLabel(options)));
  hbs.registerHelper('shell', (value: unknown, options: Handlebars.HelperOptions) => shellWord(value, helperLabel(options)));
  return hbs;
}

const environment = makeEnvironment();

/**
 * Renders a template. Strict: a name the data lacks is an error, not an empty string. A bare
 * `{{value}}` is refused at compile time, so every value goes through an escaping helper.
 */
export function render(template: string, data: object, templateName = 'template'): string {
  let compiled: Handlebars.TemplateDelegate;
  try {
    const ast = environment.parse(template);
    argumentNames = assertEveryValueEscaped(ast, templateName);
    compiled = environment.compile(template, { noEscape: true, strict: true, knownHelpersOnly: false });
    return compiled(data);
  } catch (error) {
    if (error instanceof RenderError) throw new RenderError(`${templateName}: ${error.message.replace(`${templateName}: `, '')}`);
    throw new RenderError(`${templateName}: ${(error as Error).message}`);
  }
}

const ESCAPING_HELPERS = new Set(['hcl', 'hclList', 'json', 'shell']);
const BLOCK_HELPERS = new Set(['if', 'unless', 'each', 'with']);

function assertEveryValueEscaped(node: hbs.AST.Node, templateName: string): Map<string, string> {
  const names = new Map<string, string>();
  const visit = (n: hbs.AST.Node | undefined): void => {
    if (!n) return;
    if (n.type === 'MustacheStatement') {
      const m = n as hbs.AST.MustacheStatement;
      const head = m.path.type === 'PathExpression' ? (m.path as hbs.AST.PathExpression).original : '';
      if (!ESCAPING_HELPERS.has(head)) {
        throw new RenderError(`${templateName}: line ${m.loc.start.line}: {{${head}}} must go through an escaping helper (${[...ESCAPING_HELPERS].join(', ')})`);
      }
      const argument = m.params[0];
      if (argument?.type === 'PathExpression') names.set(`${m.loc.start.line}:${m.loc.start.column}`, (argument as hbs.AST.PathExpression).original);
    }
    if (n.type === 'BlockStatement') {
      const b = n as hbs.AST.BlockStatement;
      const head = b.path.type === 'PathExpression' ? (b.path as hbs.AST.PathExpression).original : '';
      if (!BLOCK_HELPERS.has(head)) throw new RenderError(`${templateName}: line ${b.loc.start.line}: unknown block {{#${head}}}`);
      visit(b.program);
      visit(b.inverse);
    }
    if (n.type === 'Program') for (const s of (n as hbs.AST.Program).body) visit(s);
  };
  visit(node);
  return names;
}
