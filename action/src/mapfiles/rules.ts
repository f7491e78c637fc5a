// The lint rules: what breaks a mapfile once it is in the bucket and served by the image, checked
// on the parsed document, one theme a module (rules-secrets, rules-paths, rules-serving, rules-runtime, rules-mirror). Messages
// name keywords and places, never the secret values themselves.
import { findingKey, type Finding, type RuleContext, type RuleResult, type SecretSpan } from './findings.js';
import { mirrorSelectionRule } from './rules-mirror.js';
import { dataPathRule } from './rules-paths.js';
import { initFileRule, pluginRule, relativeInitRule } from './rules-runtime.js';
import { secretRule } from './rules-secrets.js';
import { errorFileRule, mapPatternRule, onlineResourceRule } from './rules-serving.js';

export function runRules(context: RuleContext): RuleResult {
  const findings: Finding[] = [];
  const secrets: SecretSpan[] = [];
  secretRule(context, findings, secrets);
  errorFileRule(context, findings);
  dataPathRule(context, findings);
  onlineResourceRule(context, findings);
  mapPatternRule(context, findings);
  pluginRule(context, findings);
  relativeInitRule(context, findings);
  mirrorSelectionRule(context, findings);
  initFileRule(context, findings);
  return { findings: dedupe(findings), secrets };
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = findingKey(f);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
