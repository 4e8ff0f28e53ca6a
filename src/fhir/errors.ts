/**
 * Typed FHIR errors. Code throws them; `http/render-error.ts` turns them into OperationOutcome
 * responses in one place.
 */
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4';

export type IssueCode = OperationOutcomeIssue['code'];
export type IssueSeverity = OperationOutcomeIssue['severity'];

export interface Issue {
  severity?: IssueSeverity;
  code: IssueCode;
  diagnostics: string;
  /** FHIRPath-style location, e.g. `Patient.identifier[0].value`, or a search parameter name. */
  expression?: string[];
}

export class FhirError extends Error {
  readonly issues: Issue[];
  /** Extra response headers, e.g. WWW-Authenticate on 401/403. */
  headers: Record<string, string> = {};
  constructor(
    readonly status: number,
    issues: Issue | Issue[],
  ) {
    const list = Array.isArray(issues) ? issues : [issues];
    super(list.map((i) => i.diagnostics).join('; '));
    this.issues = list;
  }
  withHeader(name: string, value: string): this {
    this.headers[name] = value;
    return this;
  }
}

export const badRequest = (diagnostics: string, expression?: string, code: IssueCode = 'invalid') =>
  new FhirError(400, { code, diagnostics, expression: expression ? [expression] : undefined });
export const notFound = (diagnostics: string) => new FhirError(404, { code: 'not-found', diagnostics });
export const gone = (diagnostics: string) => new FhirError(410, { code: 'deleted', diagnostics });
export const conflict = (diagnostics: string, code: IssueCode = 'conflict') => new FhirError(409, { code, diagnostics });
export const preconditionFailed = (diagnostics: string) => new FhirError(412, { code: 'conflict', diagnostics });
export const unprocessable = (issues: Issue | Issue[]) => new FhirError(422, issues);
export const businessRule = (diagnostics: string, expression?: string) =>
  new FhirError(422, { code: 'business-rule', diagnostics, expression: expression ? [expression] : undefined });
export const forbidden = (diagnostics: string) => new FhirError(403, { code: 'forbidden', diagnostics });
export const methodNotAllowed = (diagnostics: string) => new FhirError(405, { code: 'not-supported', diagnostics });

/**
 * 401 for a missing, invalid or no longer live bearer token (RFC 6750 §3.1; access-spec §1.12). Here,
 * below both the resource server and the access engine, so access never imports auth.
 */
export function unauthorized(reason: 'login' | 'expired'): FhirError {
  const description = reason === 'expired' ? 'The access token has expired' : 'A valid access token is required';
  return new FhirError(401, { code: reason, diagnostics: description }).withHeader(
    'WWW-Authenticate',
    `Bearer realm="helsebro", error="invalid_token", error_description="${description}"`,
  );
}

export function operationOutcome(issues: Issue[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => ({
      severity: i.severity ?? 'error',
      code: i.code,
      diagnostics: i.diagnostics,
      ...(i.expression && i.expression.length > 0 ? { expression: i.expression } : {}),
    })),
  };
}

export function informationOutcome(diagnostics: string): OperationOutcome {
  return operationOutcome([{ severity: 'information', code: 'informational', diagnostics }]);
}
