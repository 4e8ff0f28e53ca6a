/**
 * Search parameters whose index rows are exactly the union of other parameters' rows, so they are
 * not written again (issue 11 §4: every device reading wrote its code and value twice, once under
 * `code`/`value-quantity` and once under `combo-code`/`combo-value-quantity`). R4 defines each
 * `combo-X` of Observation as `Observation.X | Observation.component.X`, which is `X` and
 * `component-X` together (test/search/extract-oracle.test.ts checks this against the definitions'
 * expressions on every resource of the corpus). A search on such a parameter reads its own rows
 * (versions stored before they were left out keep them) and its sources' rows: the same resources.
 * Composites are not touched: their rows pair components by element.
 */
const UNIONS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  Observation: {
    'combo-code': ['code', 'component-code'],
    'combo-data-absent-reason': ['data-absent-reason', 'component-data-absent-reason'],
    'combo-value-concept': ['value-concept', 'component-value-concept'],
    'combo-value-quantity': ['value-quantity', 'component-value-quantity'],
  },
};

const NONE: ReadonlySet<string> = new Set();
const unstored = new Map<string, ReadonlySet<string>>(Object.entries(UNIONS).map(([type, unions]) => [type, new Set(Object.keys(unions))]));

/** The parameters of `type` whose rows are not written (their sources' rows answer them). */
export function unionParams(type: string): ReadonlySet<string> {
  return unstored.get(type) ?? NONE;
}

/** The parameters a parameter's rows live under: itself, and its sources when it is a union. */
export function rowCodes(type: string, code: string): readonly string[] {
  const sources = UNIONS[type]?.[code];
  return sources ? [code, ...sources] : [code];
}

/** The union parameters of every type, with their sources (for the oracle test). */
export function unionDefinitions(): ReadonlyArray<{ type: string; code: string; sources: readonly string[] }> {
  return Object.entries(UNIONS).flatMap(([type, unions]) => Object.entries(unions).map(([code, sources]) => ({ type, code, sources })));
}
