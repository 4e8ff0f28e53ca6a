/**
 * Profile invariants (ElementDefinition.constraint): FHIRPath expressions compiled once with the
 * `fhirpath` package and its R4 model, or a named rule implemented in code (named-rules.ts).
 * `memberOf(url)` is answered from the local terminology, so bindings can also be written as
 * invariants without a terminology server. An invariant holds only when it evaluates to `true`;
 * an expression that throws counts as failed (a broken rule must not wave data through).
 * See: https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.constraint
 */
import fhirpath, { type UserInvocationTable } from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import type { ElementDefinitionConstraint } from 'fhir/r4';
import type { Issue } from '../errors.js';
import type { InstanceNode } from './instance-nodes.js';
import { NAMED_RULES } from './named-rules.js';
import { ProfileLoadError, type Terminology } from './terminology.js';

export interface CompiledInvariant {
  key: string;
  check(node: InstanceNode, root: object): Issue[];
}

type Evaluator = (data: unknown, env?: Record<string, unknown>) => unknown[];

function valueOf(node: unknown): unknown {
  return node && typeof node === 'object' && 'data' in node ? (node as { data: unknown }).data : node;
}

/** FHIR's `memberOf(valueset)` against the local terminology (fhirpath.html#functions). */
export function localTerminologyFunctions(terminology: Terminology): UserInvocationTable {
  return {
    memberOf: {
      fn: (inputs: unknown[], url: string) => {
        if (inputs.length !== 1) return [];
        const vs = terminology.valueSet(url);
        if (!vs) throw new Error(`memberOf: ValueSet ${url} is not defined in profiles/`);
        return [terminology.contains(vs, valueOf(inputs[0]))];
      },
      arity: { 1: ['String'] },
    },
  };
}

export function compileInvariant(
  constraint: ElementDefinitionConstraint,
  base: string,
  rootType: string,
  functions: UserInvocationTable,
  owner: string,
): CompiledInvariant {
  const { key, human } = constraint;
  const severity = constraint.severity === 'warning' ? 'warning' : 'error';
  const native = NAMED_RULES[key];
  if (native) {
    return {
      key,
      check(node) {
        const failure = native(node.value);
        if (!failure) return [];
        const at = `${node.path}${failure.at}`;
        return [{ severity, code: failure.code, diagnostics: `${at}: ${failure.diagnostics} (${key})`, expression: [at] }];
      },
    };
  }
  if (!constraint.expression) throw new ProfileLoadError(`${owner}: constraint ${key} has no expression and no named rule`);
  let evaluate: Evaluator;
  try {
    const path = base === rootType ? constraint.expression : { base, expression: constraint.expression };
    evaluate = fhirpath.compile(path, r4 as never, { userInvocationTable: functions }) as unknown as Evaluator;
  } catch (err) {
    throw new ProfileLoadError(`${owner}: constraint ${key} is not valid FHIRPath: ${(err as Error).message}`);
  }
  return {
    key,
    check(node, root) {
      let result: unknown[];
      try {
        result = evaluate(node.value, { resource: root, rootResource: root });
      } catch (err) {
        return [{ severity, code: 'invariant', diagnostics: `${node.path}: constraint ${key} could not be evaluated (${(err as Error).message})`, expression: [node.path] }];
      }
      if (result.length === 1 && result[0] === true) return [];
      return [{ severity, code: 'invariant', diagnostics: `${node.path}: ${human} (${key})`, expression: [node.path] }];
    },
  };
}
