/**
 * Prepared statements on PGlite (QueryOptions.prepare, db.ts). PGlite's `query` parses, analyses and
 * plans its text on every call (an unnamed statement), and in-process that is the server's own CPU:
 * measured on a search by a patient token, parsing and planning were about two thirds of the
 * statement's cost (issue 11; docs/search.md "Cost on PGlite"). Here a text is parsed once into a
 * named statement over PGlite's wire protocol, and each call only binds and executes it, as the `pg`
 * driver does on PostgreSQL. Rows are parsed by PGlite's own result parser with the instance's type
 * parsers, so they come back exactly as `query` returns them.
 */
import { parse, protocol, type PGlite } from '@electric-sql/pglite';
import type { Row } from './db.js';

/** How many texts stay prepared (as pg.ts PREPARED_TEXTS_MAX); the oldest is closed beyond it. */
const PREPARED_MAX = 256;

type Messages = Awaited<ReturnType<PGlite['execProtocolStream']>>;

interface Prepared {
  name: string;
  paramTypes: number[];
  /** The statement's row description (text format), put before each execution's data rows for the parser. */
  description: Messages;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export class PreparedStatements {
  private readonly statements = new Map<string, Prepared>();
  private counter = 0;

  constructor(private readonly pg: PGlite) {}

  /** Runs `text` as a prepared statement; the caller serialises calls (pglite.ts `exclusive`), outside any transaction. */
  async query<T extends Row>(text: string, params: readonly unknown[]): Promise<T[]> {
    return this.pg.runExclusive(async () => {
      const st = this.statements.get(text) ?? (await this.prepare(text));
      const values = params.map((v, i) => {
        if (v === null || v === undefined) return null;
        const serialize = this.pg.serializers[st.paramTypes[i]!];
        return serialize ? serialize(v) : String(v);
      });
      const s = protocol.serialize;
      let messages: Messages;
      try {
        messages = await this.pg.execProtocolStream(concat([s.bind({ statement: st.name, values }), s.execute({}), s.sync()]), { syncToFs: false });
      } catch (err) {
        // A plan invalidated in an incompatible way (a migration changed a table): prepare afresh next time.
        if ((err as { code?: string }).code === '0A000') await this.close(text, st);
        throw Object.assign(err as object, { query: text, params });
      }
      // As PGlite's `query` does outside a transaction: an acknowledged write reaches the data folder.
      if (!this.pg.isInTransaction()) await this.pg.syncToFs();
      return parse.parseResults([...st.description, ...messages], this.pg.parsers)[0]!.rows as T[];
    });
  }

  private async prepare(text: string): Promise<Prepared> {
    if (this.statements.size >= PREPARED_MAX) {
      const [oldest, st] = this.statements.entries().next().value as [string, Prepared];
      await this.close(oldest, st);
    }
    const name = `hb${++this.counter}`;
    const s = protocol.serialize;
    const messages = await this.pg.execProtocolStream(concat([s.parse({ name, text }), s.describe({ type: 'S', name }), s.sync()]), { syncToFs: false });
    const st: Prepared = {
      name,
      paramTypes: parse.parseDescribeStatementResults(messages),
      description: messages.filter((m) => m.name === 'rowDescription'),
    };
    this.statements.set(text, st);
    return st;
  }

  private async close(text: string, st: Prepared): Promise<void> {
    this.statements.delete(text);
    const s = protocol.serialize;
    await this.pg.execProtocolStream(concat([s.close({ type: 'S', name: st.name }), s.sync()]), { syncToFs: false });
  }
}
