/**
 * FHIRPath expressions of SearchParameters, compiled once per (type, parameter). `resolve()` needs
 * the referenced resource, which a write does not have; `X.where(resolve() is Patient)` is rewritten
 * to `X` and the target type is checked on the reference string instead (as HAPI and Medplum do).
 */
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import type { Resource } from 'fhir/r4';
import { searchParam, type SearchParamDef } from '../definitions/registry.js';

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
    const { expression, targets } = stripResolve(def.expression);
    try {
      const fn = fhirpath.compile(expression, r4 as never, { resolveInternalTypes: true }) as unknown as Evaluator;
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

export function stripResolve(expression: string): { expression: string; targets: string[] | null } {
  const targets = new Set<string>();
  const stripped = expression.replace(/\.where\(\s*resolve\(\)\s+is\s+([A-Za-z]+)\s*\)/g, (_m, t: string) => {
    targets.add(t);
    return '';
  });
  return { expression: stripped, targets: targets.size > 0 ? [...targets] : null };
}
