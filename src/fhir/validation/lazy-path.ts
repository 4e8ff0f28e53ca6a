/**
 * Where a validation walk is: the node's instance path (`Observation.code.coding[0]`) and its element
 * definition path (`Observation.code.coding`), each made only when asked for. Only a node with an
 * issue (or one of our extensions) needs them, and the walks visit every node of every written
 * resource: a push of a thousand samples made some fifty thousand path strings nobody read (issue 11).
 */
export class LazyPath {
  private atText: string | undefined;
  private defText: string | undefined;

  /** `index` -1: a single value (no `[i]`); `rootAt`/`rootDef` start a path (a resource). */
  constructor(
    private readonly parent: LazyPath | null,
    private readonly key: string,
    private readonly index: number,
    rootAt?: string,
    rootDef?: string,
  ) {
    this.atText = rootAt;
    this.defText = rootDef;
  }

  static root(at: string, def?: string): LazyPath {
    return new LazyPath(null, '', -1, at, def);
  }

  /** The instance path, e.g. `Observation.component[1].code`. */
  get at(): string {
    return (this.atText ??= this.index >= 0 ? `${this.parent!.at}.${this.key}[${this.index}]` : `${this.parent!.at}.${this.key}`);
  }

  /** The element definition path: the keys without indices, a primitive's `_` twin read as the element. */
  get def(): string {
    return (this.defText ??= `${this.parent!.def}.${this.key.startsWith('_') ? this.key.slice(1) : this.key}`);
  }
}
