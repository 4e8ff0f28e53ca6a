/**
 * A limit on JSON nesting, checked on the raw bytes before `JSON.parse` (body-parser's `verify`
 * hook), so a body nested thousands deep is refused before any recursive code (parse, validation,
 * index extraction) sees it (issue 10 hole 8). No FHIR resource comes near the limit: the deepest
 * R4 structures (Questionnaire items, Bundle → resource → extension) stay well under 30 levels.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FhirError } from '../fhir/errors.js';

export const MAX_JSON_DEPTH = 100;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The deepest nesting of objects and arrays in `buf`, stopping as soon as it passes `max`. Strings are skipped. */
export function jsonDepthExceeds(buf: Uint8Array, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
      continue;
    }
    if (b === QUOTE) inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** body-parser `verify` for the FHIR API: 400 OperationOutcome above the limit. */
export function fhirJsonDepthGuard(_req: IncomingMessage, _res: ServerResponse, buf: Buffer): void {
  if (jsonDepthExceeds(buf)) {
    throw new FhirError(400, { code: 'structure', diagnostics: `Request body nests JSON objects/arrays deeper than ${MAX_JSON_DEPTH} levels; this server accepts at most ${MAX_JSON_DEPTH}`, expression: ['body'] });
  }
}

/** The same check for other JSON endpoints, raising their own error type. */
export function jsonDepthGuard(makeError: (message: string) => Error) {
  return (_req: IncomingMessage, _res: ServerResponse, buf: Buffer): void => {
    if (jsonDepthExceeds(buf)) throw makeError(`The JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
  };
}
