/**
 * Eligibility re-checked on refresh (access-spec §4.2: gates are evaluated at authorize, at
 * refresh and on every request). The access engine (src/access/engine.ts) supplies it.
 */
import type { Grant } from './grants.js';

export type GrantGate = (grant: Grant) => Promise<boolean>;
