/**
 * Prepared statements for PGlite (db.ts `prepare`). PGlite's `query` parses, analyses and plans its
 * text on every call (an unnamed statement each time); for the read by id with its folded grant check
 * that was 4–8 ms of CPU per read against under 1 ms executing a kept plan (issue 11, bench/read-cost.ts),
 * and in PGlite that CPU is the server's own. Here a text is parsed once into a named statement
 * (Parse + Describe over PGlite's wire-protocol entry point, which it documents for uses its `query`
 * does not cover), and each call is one Bind/Describe/Execute/Sync message. PostgreSQL then plans it as
 * it does any prepared statement (custom plans first, a generic one once that is no worse) and
 * replans it by itself after DDL or ANALYZE.
 *
 * Parameters are serialised and rows parsed with PGlite's own type maps, as its `query` does, so a
 * prepared and an unprepared statement answer alike. As for pg (pg.ts), a bounded number of texts is
 * kept; later texts run unprepared.
 */
import { parse, protocol, type PGlite } from '@electric-sql/pglite';
import type { Row } from './db.js';

interface Prepared {
  name: string;
  /** The parameter types PostgreSQL inferred, to serialise values as PGlite's `query` would. */
  types: number[];
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

export class PgliteStatements {
  private readonly prepared = new Map<string, Prepared>();
  /** Texts being prepared, so two first calls of one text prepare it once. */
  private readonly preparing = new Map<string, Promise<Prepared>>();
  private named = 0;

  constructor(
    private readonly pg: PGlite,
    private readonly max: number,
  ) {}

  /** Whether `text` runs as a prepared statement (it is, or there is room to make it one). */
  accepts(text: string): boolean {
    return this.prepared.has(text) || this.preparing.has(text) || this.prepared.size + this.preparing.size < this.max;
  }

  /** Runs `text` as a named prepared statement; the caller serialises calls (pglite.ts `exclusive`). */
  async query<T extends Row>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    const statement = this.prepared.get(text) ?? (await this.prepare(text));
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serialize = this.pg.serializers[statement.types[i]!];
      return serialize ? serialize(value) : String(value as string);
    });
    const S = protocol.serialize;
    const { messages } = await this.pg.runExclusive(() =>
      this.pg.execProtocol(concat([S.bind({ statement: statement.name, values }), S.describe({ type: 'P' }), S.execute({}), S.sync()])),
    );
    return parse.parseResults(messages, this.pg.parsers)[0]!.rows as T[];
  }

  private prepare(text: string): Promise<Prepared> {
    let pending = this.preparing.get(text);
    if (!pending) {
      const name = `p${this.named++}`;
      const S = protocol.serialize;
      pending = this.pg
        .runExclusive(() => this.pg.execProtocol(concat([S.parse({ name, text }), S.describe({ type: 'S', name }), S.sync()]), { syncToFs: false }))
        .then(({ messages }) => {
          const prepared = { name, types: parse.parseDescribeStatementResults(messages) };
          this.prepared.set(text, prepared);
          return prepared;
        })
        .finally(() => this.preparing.delete(text));
      this.preparing.set(text, pending);
    }
    return pending;
  }
}
