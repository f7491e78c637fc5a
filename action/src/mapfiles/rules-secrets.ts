// Rules about credentials in a mapfile and its includes: CONFIG options and METADATA keys that hold
// them, and access keys, passwords and URL user info in any value or comment.
import { blocksOf, pairsOf, statementsOf, type Block, type SourceToken, type Statement } from './blocks.js';
import type { MapfileDocument } from './document.js';
import { finding, type Finding, type RuleContext, type SecretSpan } from './findings.js';

const TASK_ROLE_ADVICE =
  'remove it: in the container GDAL reads /vsis3/ with the ECS task role (input task-role-arn), which hands out short-lived credentials, so no key belongs in a mapfile';

/** CONFIG keys that are credentials (GDAL/CPL options and libpq's). */
const SECRET_CONFIG_KEYS = new Set([
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AZURE_STORAGE_ACCESS_KEY',
  'AZURE_STORAGE_CONNECTION_STRING',
  'AZURE_STORAGE_SAS_TOKEN',
  'AZURE_SAS',
  'GS_ACCESS_KEY_ID',
  'GS_SECRET_ACCESS_KEY',
  'GS_OAUTH2_CLIENT_SECRET',
  'GS_OAUTH2_REFRESH_TOKEN',
  'GS_OAUTH2_PRIVATE_KEY',
  'OSS_ACCESS_KEY_ID',
  'OSS_SECRET_ACCESS_KEY',
  'SWIFT_AUTH_V1_KEY',
  'GDAL_HTTP_USERPWD',
  'GDAL_HTTP_BEARER',
  'GDAL_HTTP_PROXYUSERPWD',
  'PGPASSWORD',
]);
const SECRET_CONFIG_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|USERPWD|CONNECTION_STRING|API_?KEY|PRIVATE_KEY)/i;
const AWS_CONFIG_KEYS = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);

/** AWS access key ids (long-lived AKIA, temporary ASIA). */
const AWS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;
/** key=value credentials inside connection strings, URLs' query strings and GDAL options. */
const SECRET_ASSIGNMENT = /\b(password|passwd|pwd|aws_secret_access_key|aws_session_token|secret_access_key|x-amz-security-token|sig|access_token)\s*=\s*('[^']*'|"[^"]*"|[^\s;&'"]+)/gi;
/** Credentials in a URL's user info: scheme://user:password@host. */
const URL_CREDENTIALS = /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@'"]+:([^/\s@'"]+)@/gi;
/** METADATA keys that hold credentials (wms_auth_password, wms_proxy_password...). */
const SECRET_METADATA_KEY = /(password|passwd|secret|token|api_?key)$/i;

/** Reports each credential and keeps where its value sits, so MapServer's output can leave it out. */
export function secretRule({ doc }: RuleContext, findings: Finding[], secrets: SecretSpan[]): void {
  const addSpan = (token: SourceToken): void => {
    const start = token.contentStart ?? token.start;
    const end = token.contentEnd ?? token.end;
    if (end > start) secrets.push({ file: token.file, start, end, value: token.value });
  };

  // CONFIG "AWS_SECRET_ACCESS_KEY" "..." and other credential options.
  for (const statement of statementsOf(doc.root, 'CONFIG')) {
    const [key, value] = statement.args;
    if (!key || !value || value.value.trim() === '') continue;
    const name = key.value.toUpperCase();
    if (!SECRET_CONFIG_KEYS.has(name) && !SECRET_CONFIG_NAME.test(name)) continue;
    addSpan(value);
    const advice = AWS_CONFIG_KEYS.has(name)
      ? TASK_ROLE_ADVICE
      : 'remove it: no long-lived credential belongs in a mapfile; give the ECS task role access instead, or pass the value to the task as a secret from AWS Secrets Manager';
    findings.push(finding(key, 'error', 'secret', `CONFIG "${name}" writes a credential into the mapfile (value not shown); ${advice}`));
  }

  // METADATA "wms_auth_password" "..." and the like. VALIDATION is left out: its values are the
  // patterns and defaults a request's %token% substitutions are checked against, not credentials.
  for (const type of ['METADATA', 'CONNECTIONOPTIONS']) {
    for (const block of blocksOf(doc.root, type)) {
      for (const [key, value] of pairsOf(block)) {
        if (!value || value.value.trim() === '' || !SECRET_METADATA_KEY.test(key.value)) continue;
        addSpan(value);
        findings.push(
          finding(key, 'error', 'secret', `${type} "${key.value}" holds a credential (value not shown); remove it and let the ECS task role or a Secrets Manager secret provide access`),
        );
      }
    }
  }

  // Any value: AWS key ids, password=... in connection strings, user:password@ in URLs.
  for (const token of doc.tokens) {
    if (token.kind === 'number' || token.kind === 'other') continue;
    scanText(token.value, token, token.contentStart ?? token.start, doc, findings, secrets, statementFor(doc, token));
  }
  // Comments too: a key in a commented-out line is still a key in the bucket.
  for (const comment of doc.comments) {
    scanText(comment.text, { file: comment.file, line: comment.line }, comment.start, doc, findings, secrets, 'a comment');
  }
}

function statementFor(doc: MapfileDocument, token: SourceToken): string {
  const found = findStatement(doc.root, token);
  return found ? found.keyword : 'a value';
}

function findStatement(block: Block, token: SourceToken): Statement | undefined {
  for (const s of block.statements) if (s.args.includes(token)) return s;
  for (const child of block.children) {
    const found = findStatement(child, token);
    if (found) return found;
  }
  return undefined;
}

/** Access key ids, password=... and user:password@ in one value or comment. */
function scanText(
  text: string,
  where: { file: string; line: number },
  baseOffset: number,
  doc: MapfileDocument,
  findings: Finding[],
  secrets: SecretSpan[],
  place: string,
): void {
  const source = doc.files.find((f) => f.path === where.file);
  // Offsets are exact only where the value is the raw text (no escapes); spans are also
  // redacted by value, so an inexact offset never leaks the secret.
  const spanAt = (index: number, value: string): SecretSpan => ({ file: where.file, start: baseOffset + index, end: baseOffset + index + value.length, value });
  const lineOf = (index: number): number => (source ? lineAt(source.text, baseOffset + index) : where.line);

  for (const match of text.matchAll(AWS_KEY_ID)) {
    secrets.push(spanAt(match.index ?? 0, match[0]));
    findings.push(finding({ file: where.file, line: lineOf(match.index ?? 0) }, 'error', 'secret', `an AWS access key id is written in ${place} (value not shown); ${TASK_ROLE_ADVICE}`));
  }
  for (const match of text.matchAll(SECRET_ASSIGNMENT)) {
    const [, name = '', rawValue = ''] = match;
    const value = rawValue.replace(/^['"]|['"]$/g, '');
    if (value === '') continue;
    const index = (match.index ?? 0) + match[0].length - rawValue.length;
    secrets.push(spanAt(index, rawValue));
    if (value !== rawValue) secrets.push(spanAt(index + 1, value));
    const lower = name.toLowerCase();
    const advice = lower.startsWith('aws_') || lower === 'secret_access_key' || lower === 'x-amz-security-token'
      ? TASK_ROLE_ADVICE
      : 'remove it: keep the password out of the bucket, for example in a PostgreSQL service file (service=name) or an environment variable the ECS task gets from AWS Secrets Manager';
    findings.push(finding({ file: where.file, line: lineOf(match.index ?? 0) }, 'error', 'secret', `${place} holds ${lower}= with a credential (value not shown); ${advice}`));
  }
  for (const match of text.matchAll(URL_CREDENTIALS)) {
    const password = match[1] ?? '';
    const index = (match.index ?? 0) + match[0].length - 1 - password.length;
    secrets.push(spanAt(index, password));
    findings.push(
      finding(
        { file: where.file, line: lineOf(match.index ?? 0) },
        'error',
        'secret',
        `${place} holds a URL with a user name and password (value not shown); remove the credentials from the URL and grant access to the ECS task role instead`,
      ),
    );
  }
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
