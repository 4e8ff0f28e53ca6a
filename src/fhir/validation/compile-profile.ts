/**
 * A StructureDefinition's differential → rules checked on every matching resource: cardinality,
 * fixed[x]/pattern[x], required bindings to local ValueSets, reference target types, choice type
 * restrictions, extension slices (by url) and invariants. Anything else a differential can say is
 * refused at load with the element named: a profile the engine cannot fully enforce must not look
 * as if it were enforced. See: https://hl7.org/fhir/R4/profiling.html
 */
import type { ElementDefinition, StructureDefinition } from 'fhir/r4';
import type { UserInvocationTable } from 'fhirpath';
import { compileInvariant, type CompiledInvariant } from './invariants.js';
import { ProfileLoadError, stripVersion, type LocalValueSet, type Terminology } from './terminology.js';

export const CORE_SD = 'http://hl7.org/fhir/StructureDefinition/';
/** Marks a profile that applies to every resource of its type, whatever `meta.profile` says. */
export const DEFAULT_PROFILE_EXT = 'https://fhir.helsebro.no/StructureDefinition/default-profile';

export interface ExtensionSlice {
  name: string;
  url: string;
  min: number;
  max: number;
}

export interface ElementRule {
  /** ElementDefinition.id, for messages. */
  id: string;
  /** Path below the root, e.g. ['provision', 'actor']. */
  segments: string[];
  min?: number;
  max?: number;
  fixed?: unknown;
  pattern?: unknown;
  binding?: LocalValueSet;
  /** Allowed type suffixes of a choice element (`Quantity`, `String`…). */
  choiceTypes?: string[];
  /** Allowed resource types of a Reference. */
  targetTypes?: string[];
  invariants: CompiledInvariant[];
  extensionSlices: ExtensionSlice[];
  closedSlicing: boolean;
}

export interface CompiledProfile {
  url: string;
  name: string;
  type: string;
  isDefault: boolean;
  /** For extension definitions: element paths the extension may be used on. */
  context: string[];
  rules: ElementRule[];
}

export interface CompileContext {
  terminology: Terminology;
  functions: UserInvocationTable;
  /** Resource type of a local profile canonical, for targetProfile. */
  typeOfProfile(url: string): string | undefined;
}

const DOCUMENTARY = new Set([
  'id', 'extension', 'path', 'label', 'code', 'short', 'definition', 'comment', 'requirements', 'alias', 'base',
  'meaningWhenMissing', 'orderMeaning', 'example', 'condition', 'mustSupport', 'isModifier', 'isModifierReason', 'isSummary', 'mapping',
]);
const ENFORCED = new Set(['sliceName', 'slicing', 'min', 'max', 'type', 'constraint', 'binding']);

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function checkSupported(el: ElementDefinition, owner: string): void {
  for (const key of Object.keys(el)) {
    if (DOCUMENTARY.has(key) || ENFORCED.has(key) || /^(fixed|pattern)[A-Z]/.test(key)) continue;
    throw new ProfileLoadError(`${owner}: ${el.id ?? el.path} uses ${key}, which this server cannot enforce`);
  }
}

function targetType(url: string, ctx: CompileContext, owner: string): string {
  const bare = stripVersion(url);
  if (bare.startsWith(CORE_SD)) return bare.slice(CORE_SD.length);
  const local = ctx.typeOfProfile(bare);
  if (!local) throw new ProfileLoadError(`${owner}: targetProfile ${url} is neither a core type nor a profile in profiles/`);
  return local;
}

function compileElement(el: ElementDefinition, sd: StructureDefinition, ctx: CompileContext, owner: string): ElementRule {
  checkSupported(el, owner);
  const [root, ...segments] = el.path.split('.');
  if (root !== sd.type) throw new ProfileLoadError(`${owner}: element ${el.path} is not part of ${sd.type}`);
  const rule: ElementRule = { id: el.id ?? el.path, segments, invariants: [], extensionSlices: [], closedSlicing: false };
  if (segments.length > 0) {
    if (el.min !== undefined) rule.min = el.min;
    if (el.max !== undefined) rule.max = el.max === '*' ? Infinity : Number(el.max);
  }
  for (const [key, value] of Object.entries(el)) {
    if (key.startsWith('fixed')) rule.fixed = value;
    else if (key.startsWith('pattern')) rule.pattern = value;
  }
  if (el.binding?.strength === 'required') {
    const url = el.binding.valueSet;
    const vs = url ? ctx.terminology.valueSet(url) : undefined;
    if (!vs) throw new ProfileLoadError(`${owner}: ${rule.id} has a required binding to ${url ?? 'nothing'}, which is not a ValueSet in profiles/`);
    rule.binding = vs;
  }
  const last = segments.at(-1) ?? '';
  for (const t of el.type ?? []) {
    if (t.profile?.length) throw new ProfileLoadError(`${owner}: ${rule.id}: type profiles are only supported on extension slices`);
    if (t.targetProfile?.length) {
      if (t.code !== 'Reference') throw new ProfileLoadError(`${owner}: ${rule.id}: targetProfile is only supported on Reference`);
      rule.targetTypes = [...(rule.targetTypes ?? []), ...t.targetProfile.map((p) => targetType(p, ctx, owner))];
    }
  }
  if (last.endsWith('[x]') && el.type?.length) rule.choiceTypes = el.type.map((t) => upperFirst(t.code));
  if (el.slicing) {
    const d = el.slicing.discriminator ?? [];
    if (!(last === 'extension' || last === 'modifierExtension') || d.length !== 1 || d[0]!.type !== 'value' || d[0]!.path !== 'url') {
      throw new ProfileLoadError(`${owner}: ${rule.id}: only extensions sliced by url are supported`);
    }
    rule.closedSlicing = el.slicing.rules === 'closed';
  }
  const base = [root, ...segments].join('.');
  for (const c of el.constraint ?? []) rule.invariants.push(compileInvariant(c, base, sd.type, ctx.functions, `${owner} ${rule.id}`));
  return rule;
}

/** `X.extension:name` with type Extension(profile) → a slice of the rule for `X.extension`. */
function compileSlice(el: ElementDefinition, sliced: Map<string, ElementRule>, owner: string): void {
  checkSupported(el, owner);
  const parent = sliced.get(el.path);
  const url = el.type?.[0]?.profile?.[0];
  if (!parent || !url || el.type?.length !== 1 || el.type[0]!.code !== 'Extension') {
    throw new ProfileLoadError(`${owner}: slice ${el.id} must be an extension slice with one profile, after its sliced element`);
  }
  if (el.constraint?.length || el.binding || Object.keys(el).some((k) => /^(fixed|pattern)[A-Z]/.test(k))) {
    throw new ProfileLoadError(`${owner}: slice ${el.id}: constrain the extension in its own definition, not in the slice`);
  }
  parent.extensionSlices.push({ name: el.sliceName!, url: stripVersion(url), min: el.min ?? 0, max: el.max === undefined || el.max === '*' ? Infinity : Number(el.max) });
}

export function compileStructureDefinition(sd: StructureDefinition, ctx: CompileContext): CompiledProfile {
  const owner = `StructureDefinition ${sd.url}`;
  if (sd.derivation !== 'constraint') throw new ProfileLoadError(`${owner}: only constraint profiles are supported`);
  if (sd.baseDefinition !== `${CORE_SD}${sd.type}`) throw new ProfileLoadError(`${owner}: must be based directly on ${CORE_SD}${sd.type}`);
  const rules = new Map<string, ElementRule>();
  const sliced = new Map<string, ElementRule>();
  for (const el of sd.differential?.element ?? []) {
    if (el.id?.includes(':') && !el.sliceName) throw new ProfileLoadError(`${owner}: ${el.id}: elements inside slices are not supported`);
    if (el.sliceName) compileSlice(el, sliced, owner);
    else if (rules.has(el.path)) throw new ProfileLoadError(`${owner}: ${el.path} appears twice`);
    else {
      const rule = compileElement(el, sd, ctx, owner);
      rules.set(el.path, rule);
      if (el.slicing) sliced.set(el.path, rule);
    }
  }
  const isDefault = (sd.extension ?? []).some((e) => e.url === DEFAULT_PROFILE_EXT && e.valueBoolean === true);
  const context = (sd.context ?? []).filter((c) => c.type === 'element').map((c) => c.expression);
  return { url: sd.url, name: sd.name, type: sd.type, isDefault, context, rules: [...rules.values()] };
}
