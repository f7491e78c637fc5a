// What a lint rule is given and what it reports: findings (file, line, severity, rule) and the
// places of secret values, which every output leaves out.
import type { Selection } from '../mirror/selection.js';
import type { MapfileDocument } from './document.js';

export interface MirrorLintContext {
  selection: Selection;
  bucket: string;
  prefix: string;
}

export type Severity = 'error' | 'warning';
export type RuleId = 'syntax' | 'include' | 'secret' | 'errorfile' | 'data-path' | 'onlineresource' | 'map-pattern' | 'mapserver' | 'mirror';

export interface Finding {
  file: string;
  line: number;
  severity: Severity;
  rule: RuleId;
  message: string;
}

/** Where a secret value sits in a source file, so every output can leave it out. */
export interface SecretSpan {
  file: string;
  start: number;
  end: number;
  value: string;
}

export interface RuleContext {
  doc: MapfileDocument;
  /** Local folder that is /mapfiles in the container (the synced folder). */
  root: string;
  /** The mapfile's path in the container, such as /mapfiles/roads/roads.map. */
  containerPath: string;
  mapPattern: RegExp;
  /** Plugin names the image's MapServer config file declares (PLUGINS block); none when not given. */
  imagePlugins?: readonly string[];
  /** With the mirror driver: what the instances hold, to warn about paths to files they do not. */
  mirror?: MirrorLintContext;
  /** Whether a local file exists; injectable for tests. */
  exists?: (path: string) => boolean;
}

export interface RuleResult {
  findings: Finding[];
  secrets: SecretSpan[];
}

export function finding(token: { file: string; line: number }, severity: Severity, rule: RuleId, message: string): Finding {
  return { file: token.file, line: token.line, severity, rule, message };
}

/** Text with every secret value of at least four characters replaced by ***. */
export function redactSecrets(text: string, secrets: readonly SecretSpan[]): string {
  return secrets.reduce((out, s) => (s.value.length >= 4 ? out.split(s.value).join('***') : out), text);
}

/** Two findings with the same key say the same thing. */
export function findingKey(f: Finding): string {
  return `${f.file}\0${f.line}\0${f.rule}\0${f.message}`;
}
