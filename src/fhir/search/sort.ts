/** `_sort=a,-b` → ORDER BY over index rows (the smallest value per resource), then a stable tiebreak. */
import { badRequest } from '../errors.js';
import { searchParam } from '../definitions/registry.js';
import { codeIs, type CompileCtx } from './compile.js';
import { rowCodes } from './row-sources.js';

const SORT_COLUMN: Record<string, [string, string]> = {
  date: ['sp_date', 'low'], string: ['sp_string', 'norm'], token: ['sp_token', 'value'], number: ['sp_number', 'value'],
  quantity: ['sp_quantity', 'value'], uri: ['sp_uri', 'value'], reference: ['sp_reference', 'target_id'],
};

export function compileSort(value: string | undefined, type: string, ctx: CompileCtx): string {
  const keys: string[] = [];
  for (const raw of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const desc = raw.startsWith('-');
    const code = desc ? raw.slice(1) : raw;
    const dir = desc ? 'DESC' : 'ASC';
    if (code === '_id') keys.push(`r.id ${dir}`);
    else if (code === '_lastUpdated') keys.push(`r.last_updated ${dir}`);
    else {
      const def = searchParam(type, code);
      const col = def ? SORT_COLUMN[def.type] : undefined;
      if (!def || !col) throw badRequest(`Cannot sort by "${code}" on ${type}`, '_sort');
      const agg = desc && col[0] === 'sp_date' ? 'max(s.high)' : desc ? `max(s.${col[1]})` : `min(s.${col[1]})`;
      keys.push(`(SELECT ${agg} FROM ${col[0]} s WHERE s.seq = r.seq AND ${codeIs('s.code', rowCodes(type, code), ctx)}) ${dir} NULLS LAST`);
    }
  }
  keys.push('r.last_updated DESC', 'r.id ASC');
  return keys.join(', ');
}
