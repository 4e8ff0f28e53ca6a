/**
 * A tiny HTML builder: every interpolated value is escaped unless it is already `SafeHtml`, so a
 * client name or a scope from a request can never inject markup into a page.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

type Part = SafeHtml | string | number | null | undefined | false | ReadonlyArray<SafeHtml | string>;

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof SafeHtml) return part.value;
  if (Array.isArray(part)) return part.map((p) => render(p as Part)).join('');
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

const STYLE = `
  *{box-sizing:border-box}
  body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1b1f23;line-height:1.5}
  main{max-width:34rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}
  h1{font-size:1.4rem;margin-top:0}
  .en{color:#4a5560;font-size:.95em}
  fieldset{border:1px solid #c8ced3;border-radius:6px;padding:.75rem 1rem;margin:1rem 0}
  legend{font-weight:600;padding:0 .25rem}
  label{display:block;margin:.4rem 0;cursor:pointer}
  input[type=text]{font-size:1.1rem;padding:.5rem;width:100%;border:1px solid #8a949c;border-radius:4px}
  .buttons{display:flex;gap:.75rem;margin-top:1.25rem;flex-wrap:wrap}
  button{font-size:1rem;padding:.6rem 1.2rem;border-radius:4px;border:2px solid #005b7f;cursor:pointer}
  button.primary{background:#005b7f;color:#fff}
  button.secondary{background:#fff;color:#005b7f}
  button:focus,input:focus{outline:3px solid #ffbf47;outline-offset:2px}
  ul.scopes{padding-left:1.2rem}
  .error{background:#fdecea;border-left:4px solid #b3261e;padding:.5rem .75rem}
  .terms{max-height:16rem;overflow:auto;border:1px solid #c8ced3;padding:.5rem .75rem;background:#fafbfc}
`;

/** The page frame: Norwegian first (`lang="nb"`), English parts marked `lang="en"`. */
export function layout(title: string, body: SafeHtml): string {
  return `<!doctype html>
<html lang="nb">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body.value}
</main>
</body>
</html>`;
}
