/**
 * The registered `client_name` of a client id, which is what the citizen recognises in the access
 * log ("Helsebro", "Min treningsapp"; issue 10 §6). Looked up once per client and cached, so the
 * log costs a read no extra statement; a renamed app shows its new name within `ttlMs`.
 * Reads `auth_clients` directly (the registry of src/auth/clients.ts) so the log does not depend on auth.
 */
import type { Queryable } from '../db/db.js';

export class ClientNames {
  private readonly cache = new Map<string, { name: string | null; at: number }>();

  constructor(
    private readonly db: Queryable,
    private readonly ttlMs = 5 * 60_000,
  ) {}

  async nameOf(clientId: string | null | undefined): Promise<string | null> {
    if (!clientId) return null;
    const hit = this.cache.get(clientId);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.name;
    const rows = await this.db.query<{ client_name: string }>('SELECT client_name FROM auth_clients WHERE client_id = $1', [clientId]);
    const name = rows[0]?.client_name ?? null;
    // Bounded: client ids come from verified tokens, but a registry with very many apps must not grow this forever.
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(clientId, { name, at: Date.now() });
    return name;
  }
}
