/** JSON Patch (RFC 6902) with the errors a client can act on. */
import jsonpatch from 'fast-json-patch';
import type { Resource } from 'fhir/r4';
import { badRequest, FhirError } from '../errors.js';

export function applyJsonPatch(target: Resource, operations: unknown): Resource {
  if (!Array.isArray(operations)) throw badRequest('A JSON Patch body must be an array of operations', 'body');
  const error = jsonpatch.validate(operations as jsonpatch.Operation[], target);
  if (error) {
    const index = typeof error.index === 'number' ? error.index : 0;
    // A failed `test` operation is a precondition, everything else a malformed patch.
    if (error.name === 'TEST_OPERATION_FAILED') throw new FhirError(422, { code: 'processing', diagnostics: `JSON Patch test failed at operation ${index}`, expression: [`body[${index}]`] });
    throw badRequest(`Invalid JSON Patch operation ${index}: ${error.name.toLowerCase().replace(/_/g, ' ')}`, `body[${index}]`);
  }
  try {
    return jsonpatch.applyPatch(structuredClone(target), operations as jsonpatch.Operation[], false, false).newDocument;
  } catch (err) {
    throw badRequest(`JSON Patch could not be applied: ${(err as Error).name}`, 'body');
  }
}
