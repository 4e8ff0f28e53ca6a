/**
 * FHIRPath expressions of SearchParameters, compiled once per (type, parameter). `resolve()` needs
 * the referenced resource, which a write does not have; `X.where(resolve() is Patient)` is rewritten
 * to `X` and the target type is checked on the reference string instead (as HAPI and Medplum do).
 */
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import type { Resource } from 'fhir/r4';
import { searchParam, searchParamByUrl, type SearchParamDef } from '../definitions/registry.js';
import { compileElementPaths, compileRelativePathWithKeys, compileSimplePath, compileSimplePathFor, elementPaths } from './simple-path.js';

export interface CompiledParam {
  def: SearchParamDef;
  /** Evaluates the parameter's expression on a resource. */
  evaluate(resource: Resource): unknown[];
  /** Allowed reference target types from `where(resolve() is X)`, if the expression narrowed them. */
  resolveTargets: string[] | null;
}

const cache = new Map<string, CompiledParam | null>();
type Evaluator = (resource: unknown) => unknown[];

export function compiledParam(type: string, code: string): CompiledParam | null {
  const key = `${type}.${code}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const def = searchParam(type, code);
  let compiled: CompiledParam | null = null;
  if (def?.expression) {
    const { expression: stripped, targets } = stripResolve(def.expression);
    const expression = perItemCasts(stripped);
    try {
      // Plain paths are evaluated directly (simple-path.ts); the rest by fhirpath.js.
      const fn = (compileSimplePath(expression) as Evaluator | null) ?? (fhirpath.compile(expression, r4 as never, { resolveInternalTypes: true }) as unknown as Evaluator);
      compiled = {
        def,
        resolveTargets: targets,
        evaluate: (resource) => {
          try {
            return fn(resource).filter((v) => v !== null && v !== undefined);
          } catch {
            return [];
          }
        },
      };
    } catch {
      compiled = null; // an expression the engine cannot compile is not searchable
    }
  }
  cache.set(key, compiled);
  return compiled;
}

/** A parameter compiled for the write path (`typedParam`). */
export interface TypedParam {
  code: string;
  type: SearchParamDef['type'];
  /** The parameter's values on a resource of the type: what `compiledParam(…).evaluate` gives. */
  evaluate(resource: Resource): unknown[];
  /** The resource's keys one of which must hold a value for any value to come out; null: not known (fhirpath.js). */
  keys: readonly string[] | null;
  resolveTargets: string[] | null;
}

const typedCache = new Map<string, TypedParam | null>();

/**
 * `compiledParam` for the write path: a plain path is evaluated by `compileSimplePathFor` (no
 * per-value filtering — it never yields null — and the keys it starts from, so that parameters whose
 * elements are absent cost one property lookup); anything else as `compiledParam` evaluates it.
 */
export function typedParam(type: string, code: string): TypedParam | null {
  const key = `${type}.${code}`;
  const cached = typedCache.get(key);
  if (cached !== undefined) return cached;
  const compiled = compiledParam(type, code);
  let typed: TypedParam | null = null;
  if (compiled) {
    const direct = compileSimplePathFor(perItemCasts(stripResolve(compiled.def.expression!).expression), type);
    typed = {
      code,
      type: compiled.def.type,
      resolveTargets: compiled.resolveTargets,
      keys: direct ? direct.keys : null,
      evaluate: direct
        ? (resource) => {
            try {
              return direct.evaluate(resource);
            } catch {
              return [];
            }
          }
        : compiled.evaluate,
    };
  }
  typedCache.set(key, typed);
  return typed;
}

/**
 * `(X as T)` → `X.ofType(T)`. R4's SearchParameters cast collections with `as`, which FHIRPath
 * defines on a single item only: `(Observation.component.value as Quantity)` fails on a blood
 * pressure (two components) and nothing would be indexed. R5 rewrote these expressions with
 * `ofType`, which filters item by item and equals `as` on a single item; we read R4's the same way.
 * See: https://hl7.org/fhirpath/N1/#astype-type-specifier, https://hl7.org/fhir/R5/searchparameter-registry.html
 */
export function perItemCasts(expression: string): string {
  return expression.replace(/\(\s*([A-Za-z][A-Za-z0-9.]*)\s+as\s+([A-Za-z]+)\s*\)/g, '$1.ofType($2)');
}

export function stripResolve(expression: string): { expression: string; targets: string[] | null } {
  const targets = new Set<string>();
  const stripped = expression.replace(/\.where\(\s*resolve\(\)\s+is\s+([A-Za-z]+)\s*\)/g, (_m, t: string) => {
    targets.add(t);
    return '';
  });
  return { expression: stripped, targets: targets.size > 0 ? [...targets] : null };
}

export interface CompiledComposite {
  /** The elements the composite ranges over (e.g. the Observation itself and each `component`). */
  elements(resource: Resource): ElementNode[];
  /** Each component's parameter type and an evaluator relative to one element. */
  components: Array<{ type: string; evaluate(element: ElementNode, resource: Resource): unknown[] }>;
  /**
   * The components as evaluated on elements at one model path, compiled once per path: each one's
   * evaluator on the element (same values as `components[i].evaluate`) and the element's keys one
   * of which must hold a value for it to yield any (null: not known).
   */
  at(path: string): ReadonlyArray<{ evaluate(element: ElementNode, resource: Resource): unknown[]; keys: readonly string[] | null }>;
}

/** fhirpath.js's node when `resolveInternalTypes` is off: the JSON plus its path in the model. */
export interface ElementNode {
  path: string;
  data: unknown;
}

const compositeCache = new Map<string, CompiledComposite | null>();

/**
 * `direct` (the default): plain element and component paths are evaluated by simple-path.ts, the
 * rest by fhirpath.js; false: everything by fhirpath.js (the oracle of test/search/simple-path.test.ts).
 * An Observation has eight composites, each evaluated per element: through fhirpath.js they were
 * the largest part of indexing a write (issue 11 §4).
 */
export function compiledComposite(type: string, code: string, opts: { direct?: boolean } = {}): CompiledComposite | null {
  const direct = opts.direct ?? true;
  const key = `${type}.${code}.${direct}`;
  if (compositeCache.has(key)) return compositeCache.get(key)!;
  const def = searchParam(type, code);
  let compiled: CompiledComposite | null = null;
  try {
    if (def?.type === 'composite' && def.expression && def.components.length > 0) {
      // Unresolved nodes keep their model path, which the component expressions need to resolve
      // choice types (`value.as(Quantity)` on an Observation.component).
      const elementsFn = ((direct ? compileElementPaths(def.expression) : null) as Evaluator | null) ?? (fhirpath.compile(def.expression, r4 as never, { resolveInternalTypes: false }) as unknown as Evaluator);
      const byBase = new Map<string, { fn: Evaluator; keys: readonly string[] | null }>();
      const compile = (path: string, expression: string) => {
        let entry = byBase.get(`${path}\u0000${expression}`);
        if (!entry) {
          const plain = direct ? compileRelativePathWithKeys(path, expression) : null;
          entry = plain
            ? { fn: plain.evaluate as Evaluator, keys: plain.keys }
            : { fn: fhirpath.compile({ base: path, expression } as never, r4 as never, { resolveInternalTypes: true }) as unknown as Evaluator, keys: null };
          byBase.set(`${path}\u0000${expression}`, entry);
        }
        return entry;
      };
      // R4 writes `value.as(DateTime)`; the FHIR type name is `dateTime`, which is what matches.
      const expressions = def.components.map((c) => c.expression.replace(/\bas\(DateTime\)/g, 'as(dateTime)'));
      const evaluateAt = (path: string, expression: string) => (element: ElementNode, resource: Resource) =>
        safely(() => {
          const { fn } = compile(path, expression);
          // `%resource` (MolecularSequence's coordinates) is the whole resource, not the element.
          return (fn as unknown as (data: unknown, env: Record<string, unknown>) => unknown[])(element.data, { resource });
        }).filter((v) => v !== null && v !== undefined);
      const perPath = new Map<string, Array<{ evaluate(element: ElementNode, resource: Resource): unknown[]; keys: readonly string[] | null }>>();
      compiled = {
        elements: (resource) => safely(() => elementsFn(resource) as ElementNode[]).filter((n) => n && typeof n.path === 'string'),
        components: def.components.map((c, i) => ({
          type: searchParamByUrl(c.definition)?.type ?? 'unknown',
          evaluate: (element: ElementNode, resource: Resource) => evaluateAt(element.path, expressions[i]!)(element, resource),
        })),
        at: (path) => {
          let list = perPath.get(path);
          if (!list) {
            list = expressions.map((expression) => {
              // Compiled now (not on first use) so the keys are known; a failure stays per evaluation, as above.
              const entry = safely(() => [compile(path, expression)])[0];
              if (!entry?.keys) return { evaluate: evaluateAt(path, expression), keys: null };
              // A plain path never yields null and reads no environment.
              const fn = entry.fn;
              return { evaluate: (element: ElementNode) => safely(() => fn(element.data)), keys: entry.keys };
            });
            perPath.set(path, list);
          }
          return list;
        },
      };
      if (direct && elementPaths(def.expression)) for (const path of elementPaths(def.expression)!) compiled.at(path);
    }
  } catch {
    compiled = null; // an expression the engine cannot compile is not searchable
  }
  compositeCache.set(key, compiled);
  return compiled;
}

function safely<T>(fn: () => T[]): T[] {
  try {
    return fn();
  } catch {
    return [];
  }
}
