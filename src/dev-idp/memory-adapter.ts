/**
 * In-memory storage for the stand-in's sessions, interactions, codes and tokens (oidc-provider's
 * adapter interface). Each stand-in gets its own store, so two stand-ins in one process (tests)
 * never see each other's artefacts. Development only: a restart forgets every login, as intended.
 */
type Payload = Record<string, unknown>;

interface Entry {
  payload: Payload;
  expiresAt: number | null;
}

export function memoryAdapter() {
  const store = new Map<string, Entry>();
  const grants = new Map<string, Set<string>>();

  const live = (key: string): Payload | undefined => {
    const e = store.get(key);
    if (!e) return undefined;
    if (e.expiresAt !== null && e.expiresAt < Date.now()) {
      store.delete(key);
      return undefined;
    }
    return e.payload;
  };

  const prune = () => {
    const now = Date.now();
    for (const [k, e] of store) if (e.expiresAt !== null && e.expiresAt < now) store.delete(k);
  };

  return class MemoryAdapter {
    constructor(private readonly model: string) {}

    private key(id: string): string {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      if (store.size > 10_000) prune();
      const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : null;
      const key = this.key(id);
      store.set(key, { payload, expiresAt });
      if (typeof payload.uid === 'string') store.set(`uid:${payload.uid}`, { payload: { id }, expiresAt });
      if (typeof payload.userCode === 'string') store.set(`userCode:${payload.userCode}`, { payload: { id }, expiresAt });
      if (typeof payload.grantId === 'string') {
        const members = grants.get(payload.grantId) ?? new Set<string>();
        members.add(key);
        grants.set(payload.grantId, members);
      }
    }

    async find(id: string): Promise<Payload | undefined> {
      return live(this.key(id));
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      const index = live(`uid:${uid}`);
      return index ? this.find(String(index.id)) : undefined;
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      const index = live(`userCode:${userCode}`);
      return index ? this.find(String(index.id)) : undefined;
    }

    async consume(id: string): Promise<void> {
      const payload = live(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      for (const key of grants.get(grantId) ?? []) store.delete(key);
      grants.delete(grantId);
    }
  };
}
