/**
 * Validation on every write (issue 2 §7) and `$validate`:
 * 1. the R4 JSON schema (schema-validation.ts: compiled once per type, all errors), then the
 *    invariants of the core StructureDefinitions and the core rules kept in code
 *    (core-invariants.ts, code-rules.ts), for nested resources too;
 * 2. the profiles of profiles/ that apply: those marked default for the type (the Norwegian
 *    Patient profile applies to every Patient), those named in `meta.profile`, and those asked for;
 * 3. rules that hold everywhere (global-rules.ts: our extensions and codes, national identifiers).
 * Nested resources (contained, Bundle entries) get 2 and 3 as well; 1 covers them already.
 * See: https://hl7.org/fhir/R4/validation.html, https://hl7.org/fhir/R4/resource-operation-validate.html
 */
import type { OperationOutcome } from 'fhir/r4';
import { operationOutcome, type Issue } from '../errors.js';
import { applyProfile } from './apply-profile.js';
import type { CompiledProfile } from './compile-profile.js';
import { conformance, HELSEBRO_CANONICAL } from './conformance.js';
import { coreInvariantIssues } from './core-invariants.js';
import { globalRuleIssues } from './global-rules.js';
import { isR4ResourceType } from './r4-schema.js';
import { capIssues } from './schema-errors.js';
import { schemaIssues } from './schema-validation.js';
import { stripVersion } from './terminology.js';

export interface ValidateOptions {
  /** Profile canonicals to check in addition to the default and claimed ones (`$validate?profile=`). */
  profiles?: string[];
}

interface Outcome {
  issues: Issue[];
  /** Claimed profiles that are not ours and not known here (e.g. US Core on Synthea data): not checked. */
  unchecked: string[];
}

type Json = Record<string, unknown>;

function claimedProfiles(resource: Json): string[] {
  const profile = (resource.meta as { profile?: unknown } | undefined)?.profile;
  return Array.isArray(profile) ? profile.filter((p): p is string => typeof p === 'string') : [];
}

function profileIssues(resource: Json, path: string, requested: readonly string[], unchecked: string[]): Issue[] {
  const c = conformance();
  const type = String(resource.resourceType);
  const selected = new Map<string, CompiledProfile>((c.defaults.get(type) ?? []).map((p) => [p.url, p]));
  const issues: Issue[] = [];
  for (const url of [...claimedProfiles(resource), ...requested]) {
    const profile = c.profiles.get(stripVersion(url));
    if (profile && profile.type === type) selected.set(profile.url, profile);
    else if (profile) issues.push({ severity: 'error', code: 'invalid', diagnostics: `${path}: profile ${url} is for ${profile.type}, not ${type}`, expression: [`${path}.meta.profile`] });
    else if (url.startsWith(HELSEBRO_CANONICAL) || requested.includes(url)) {
      issues.push({ severity: 'error', code: 'not-found', diagnostics: `${path}: profile ${url} is not known to this server`, expression: [`${path}.meta.profile`] });
    } else if (!unchecked.includes(url)) unchecked.push(url);
  }
  for (const profile of selected.values()) issues.push(...applyProfile(profile, { value: resource, path }, resource, c.terminology));
  return issues;
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.severity}\u0000${i.diagnostics}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function run(resource: unknown, requested: readonly string[]): Outcome {
  const unchecked: string[] = [];
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) {
    return { issues: [{ severity: 'error', code: 'structure', diagnostics: 'A resource must be a JSON object' }], unchecked };
  }
  const json = resource as Json;
  const type = json.resourceType;
  if (typeof type !== 'string') return { issues: [{ severity: 'error', code: 'required', diagnostics: 'resourceType: a resource must have a resourceType', expression: ['resourceType'] }], unchecked };
  if (!isR4ResourceType(type)) {
    return { issues: [{ severity: 'error', code: 'not-supported', diagnostics: `resourceType: "${type}" is not a FHIR R4 resource type`, expression: ['resourceType'] }], unchecked };
  }
  const issues = schemaIssues(type, json);
  issues.push(...coreInvariantIssues(json, type));
  issues.push(...profileIssues(json, type, requested, unchecked));
  issues.push(...globalRuleIssues(json, type, conformance(), (nested, path) => profileIssues(nested, path, [], unchecked)));
  return { issues: capIssues(dedupe(issues)), unchecked };
}

/**
 * Every problem found in `resource`, as OperationOutcome issues (empty: valid). Errors make a
 * write fail with 422; warnings (from profile constraints of severity warning) do not.
 */
export function validateResource(resource: unknown, opts: ValidateOptions = {}): Issue[] {
  return run(resource, opts.profiles ?? []).issues;
}

/** `$validate`: the outcome always lists what was checked, so "no issues" is never ambiguous. */
export function validateOperation(resource: unknown, profileUrl?: string): OperationOutcome {
  const { issues, unchecked } = run(resource, profileUrl ? [profileUrl] : []);
  const notes: Issue[] = unchecked.map((url) => ({ severity: 'information', code: 'informational', diagnostics: `meta.profile ${url} is not known to this server and was not checked` }));
  if (!issues.some((i) => i.severity === 'error' || i.severity === 'fatal')) {
    notes.push({ severity: 'information', code: 'informational', diagnostics: 'Validation successful: no errors found' });
  }
  return operationOutcome([...issues, ...notes]);
}
