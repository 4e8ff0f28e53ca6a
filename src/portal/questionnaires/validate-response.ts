/**
 * Checks a QuestionnaireResponse against its Questionnaire (issue 12 "Questions before the
 * appointment"; R4 questionnaireresponse.html#link): every answered item exists in the
 * Questionnaire, answers have the item's type and allowed options, required items are answered in
 * a completed response, items disabled by enableWhen carry no answers, only repeating items repeat,
 * strings keep to maxLength, groups nest as in the Questionnaire. Pure: the rule loads, this judges.
 */
import type {
  Questionnaire, ValueSet, QuestionnaireItem, QuestionnaireItemAnswerOption, QuestionnaireItemEnableWhen, QuestionnaireResponse,
  QuestionnaireResponseItem, QuestionnaireResponseItemAnswer,
} from 'fhir/r4';
import type { Issue } from '../../fhir/errors.js';

type ItemType = QuestionnaireItem['type'];
type AnswerKey = Exclude<keyof QuestionnaireResponseItemAnswer, 'id' | 'extension' | 'modifierExtension' | 'item'>;

/** The answer value[x] each item type takes (R4 questionnaire.html#item.type; open-choice also takes a string). */
const VALUE_FOR: Partial<Record<ItemType, readonly AnswerKey[]>> = {
  boolean: ['valueBoolean'], decimal: ['valueDecimal'], integer: ['valueInteger'], date: ['valueDate'], dateTime: ['valueDateTime'],
  time: ['valueTime'], string: ['valueString'], text: ['valueString'], url: ['valueUri'], choice: ['valueCoding'],
  'open-choice': ['valueCoding', 'valueString'], attachment: ['valueAttachment'], reference: ['valueReference'], quantity: ['valueQuantity'],
};
const ALL_VALUES: readonly AnswerKey[] = [
  'valueBoolean', 'valueDecimal', 'valueInteger', 'valueDate', 'valueDateTime', 'valueTime', 'valueString', 'valueUri', 'valueAttachment', 'valueCoding', 'valueQuantity', 'valueReference',
];

interface Ctx {
  issues: Issue[];
  completed: boolean;
  /** Every answer in the response by linkId, for enableWhen (which may point anywhere in the form). */
  answers: Map<string, QuestionnaireResponseItemAnswer[]>;
  byLinkId: Map<string, QuestionnaireItem>;
  /** Contained ValueSets by `#id`, for answerValueSet (helsenorge forms carry their code lists inline). */
  valueSets: Map<string, ValueSet>;
}

export function validateResponse(q: Questionnaire, r: QuestionnaireResponse): Issue[] {
  const byLinkId = new Map<string, QuestionnaireItem>();
  walkItems(q.item ?? [], (i) => byLinkId.set(i.linkId, i));
  const answers = new Map<string, QuestionnaireResponseItemAnswer[]>();
  walkResponse(r.item ?? [], (i) => answers.set(i.linkId, [...(answers.get(i.linkId) ?? []), ...(i.answer ?? [])]));
  const ctx: Ctx = { issues: [], completed: r.status === 'completed', answers, byLinkId, valueSets: containedValueSets(q) };
  checkLevel(ctx, q.item ?? [], r.item ?? [], 'QuestionnaireResponse', [], true);
  return ctx.issues;
}

/** One level: the Questionnaire's items at this level against the response's items at this level. */
function checkLevel(ctx: Ctx, defs: readonly QuestionnaireItem[], items: readonly QuestionnaireResponseItem[], path: string, linkPath: string[], parentEnabled: boolean): void {
  for (const item of items) {
    if (!defs.some((d) => d.linkId === item.linkId)) {
      const where = ctx.byLinkId.has(item.linkId) ? 'is not at this level of the Questionnaire' : 'is not an item of the Questionnaire';
      error(ctx, `${itemPath(path, item.linkId)}`, [...linkPath, item.linkId], `linkId "${item.linkId}" ${where}`, 'structure');
    }
  }
  for (const def of defs) {
    const here = items.filter((i) => i.linkId === def.linkId);
    const p = itemPath(path, def.linkId);
    const lp = [...linkPath, def.linkId];
    const enabled = parentEnabled && isEnabled(ctx, def);
    if (!enabled) {
      if (here.some((i) => (i.answer?.length ?? 0) > 0 || hasNestedAnswers(i.item))) error(ctx, p, lp, 'is disabled by its enableWhen conditions and must not be answered', 'business-rule');
      continue;
    }
    if (here.length > 1 && !def.repeats) error(ctx, p, lp, 'does not repeat but appears more than once', 'structure');
    const answered = here.some((i) => (i.answer?.length ?? 0) > 0 || (def.type === 'group' && hasNestedAnswers(i.item)));
    if (ctx.completed && def.required && !answered && def.type !== 'display') error(ctx, p, lp, 'is required in a completed response', 'required');
    for (const item of here) {
      if (def.type === 'group' || def.type === 'display') {
        if ((item.answer?.length ?? 0) > 0) error(ctx, p, lp, `is a ${def.type} and takes no answer`, 'structure');
        if (def.type === 'group') checkLevel(ctx, def.item ?? [], item.item ?? [], p, lp, true);
        continue;
      }
      const list = item.answer ?? [];
      if (list.length > 1 && !def.repeats) error(ctx, p, lp, 'takes one answer (repeats is not set)', 'structure');
      list.forEach((a, i) => {
        checkAnswer(ctx, def, a, `${p}.answer[${i}]`, lp);
        if (a.item) checkLevel(ctx, def.item ?? [], a.item, `${p}.answer[${i}]`, lp, true);
      });
      if ((item.item?.length ?? 0) > 0) checkLevel(ctx, def.item ?? [], item.item ?? [], p, lp, true);
    }
  }
}

function checkAnswer(ctx: Ctx, def: QuestionnaireItem, a: QuestionnaireResponseItemAnswer, path: string, lp: string[]): void {
  const present = ALL_VALUES.filter((k) => a[k] !== undefined);
  const allowed = VALUE_FOR[def.type] ?? [];
  const wrong = present.filter((k) => !allowed.includes(k));
  if (present.length !== 1 || wrong.length > 0) {
    error(ctx, path, lp, `answers a ${def.type} item with ${present.join(', ') || 'no value'}; expected ${allowed.join(' or ')}`, 'value');
    return;
  }
  const key = present[0]!;
  if (key === 'valueString' && def.maxLength !== undefined && [...a.valueString!].length > def.maxLength) {
    error(ctx, path, lp, `is ${[...a.valueString!].length} characters long; maxLength is ${def.maxLength}`, 'too-long');
  }
  if (def.answerOption && def.answerOption.length > 0 && !(def.type === 'open-choice' && key === 'valueString')) {
    if (!def.answerOption.some((o) => optionMatches(o, a))) error(ctx, path, lp, `${describe(a)} is not one of the item's answerOption values`, 'code-invalid');
  }
  // Only contained ValueSets with enumerated concepts are checked; an external ValueSet would need a terminology server.
  const vs = def.answerValueSet ? ctx.valueSets.get(def.answerValueSet) : undefined;
  if (vs && key === 'valueCoding') {
    const c = a.valueCoding!;
    const known = (vs.compose?.include ?? []).some((inc) => inc.system === c.system && (inc.concept ?? []).some((k) => k.code === c.code));
    if (!known) error(ctx, path, lp, `${describe(a)} is not in the item's answerValueSet ${def.answerValueSet}`, 'code-invalid');
  }
}

export function optionMatches(o: QuestionnaireItemAnswerOption, a: QuestionnaireResponseItemAnswer): boolean {
  if (o.valueCoding) return !!a.valueCoding && a.valueCoding.code === o.valueCoding.code && (a.valueCoding.system ?? null) === (o.valueCoding.system ?? null);
  if (o.valueInteger !== undefined) return a.valueInteger === o.valueInteger;
  if (o.valueDate !== undefined) return a.valueDate === o.valueDate;
  if (o.valueTime !== undefined) return a.valueTime === o.valueTime;
  if (o.valueString !== undefined) return a.valueString === o.valueString;
  if (o.valueReference) return a.valueReference?.reference === o.valueReference.reference;
  return false;
}

/** enableWhen over the response's answers (R4 questionnaire.html#item.enableWhen); enableBehavior defaults to any. */
export function isEnabled(ctx: Pick<Ctx, 'answers'>, def: QuestionnaireItem): boolean {
  const conditions = def.enableWhen ?? [];
  if (conditions.length === 0) return true;
  const results = conditions.map((c) => conditionHolds(c, ctx.answers.get(c.question) ?? []));
  return def.enableBehavior === 'all' ? results.every(Boolean) : results.some(Boolean);
}

function conditionHolds(c: QuestionnaireItemEnableWhen, answers: readonly QuestionnaireResponseItemAnswer[]): boolean {
  if (c.operator === 'exists') return (answers.length > 0) === (c.answerBoolean ?? true);
  const expected = enableValue(c);
  if (expected === undefined) return false;
  const matches = answers.filter((a) => {
    const got = answerValue(a);
    if (got === undefined) return false;
    const cmp = compare(got, expected);
    switch (c.operator) {
      case '=': return cmp === 0;
      case '!=': return cmp !== 0;
      case '>': return cmp !== null && cmp > 0;
      case '<': return cmp !== null && cmp < 0;
      case '>=': return cmp !== null && cmp >= 0;
      case '<=': return cmp !== null && cmp <= 0;
      default: return false;
    }
  });
  // "!=" holds when no answer equals the value (including no answer at all).
  return c.operator === '!=' ? matches.length === answers.length : matches.length > 0;
}

type Comparable = string | number | boolean;

function enableValue(c: QuestionnaireItemEnableWhen): Comparable | undefined {
  if (c.answerCoding) return `${c.answerCoding.system ?? ''}|${c.answerCoding.code ?? ''}`;
  return c.answerBoolean ?? c.answerDecimal ?? c.answerInteger ?? c.answerDate ?? c.answerDateTime ?? c.answerTime ?? c.answerString ?? c.answerQuantity?.value ?? c.answerReference?.reference;
}

function answerValue(a: QuestionnaireResponseItemAnswer): Comparable | undefined {
  if (a.valueCoding) return `${a.valueCoding.system ?? ''}|${a.valueCoding.code ?? ''}`;
  return a.valueBoolean ?? a.valueDecimal ?? a.valueInteger ?? a.valueDate ?? a.valueDateTime ?? a.valueTime ?? a.valueString ?? a.valueUri ?? a.valueQuantity?.value ?? a.valueReference?.reference;
}

function compare(a: Comparable, b: Comparable): number | null {
  if (typeof a !== typeof b) return null;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean') return a === b ? 0 : null;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A Questionnaire's own `initial` values must be answers the item would accept. */
export function validateInitials(q: Questionnaire): Issue[] {
  const issues: Issue[] = [];
  const ctx: Ctx = { issues, completed: false, answers: new Map(), byLinkId: new Map(), valueSets: containedValueSets(q) };
  const walk = (items: readonly QuestionnaireItem[], path: string, lp: string[]) => {
    for (const def of items) {
      const p = `${path}.item.where(linkId='${def.linkId}')`;
      (def.initial ?? []).forEach((init, i) => {
        if (def.type === 'group' || def.type === 'display') error(ctx, `${p}.initial[${i}]`, [...lp, def.linkId], `is a ${def.type} and has no initial value`, 'structure');
        else checkAnswer(ctx, def, init as QuestionnaireResponseItemAnswer, `${p}.initial[${i}]`, [...lp, def.linkId]);
      });
      if ((def.initial?.length ?? 0) > 1 && !def.repeats) error(ctx, `${p}.initial`, [...lp, def.linkId], 'has several initial values but does not repeat', 'structure');
      walk(def.item ?? [], p, [...lp, def.linkId]);
    }
  };
  walk(q.item ?? [], 'Questionnaire', []);
  return issues;
}

function containedValueSets(q: Questionnaire): Map<string, ValueSet> {
  return new Map((q.contained ?? []).flatMap((r) => (r.resourceType === 'ValueSet' && r.id ? [[`#${r.id}`, r as ValueSet] as const] : [])));
}

function walkItems(items: readonly QuestionnaireItem[], fn: (i: QuestionnaireItem) => void): void {
  for (const i of items) {
    fn(i);
    walkItems(i.item ?? [], fn);
  }
}

function walkResponse(items: readonly QuestionnaireResponseItem[], fn: (i: QuestionnaireResponseItem) => void): void {
  for (const i of items) {
    fn(i);
    for (const a of i.answer ?? []) walkResponse(a.item ?? [], fn);
    walkResponse(i.item ?? [], fn);
  }
}

function hasNestedAnswers(items: readonly QuestionnaireResponseItem[] | undefined): boolean {
  return (items ?? []).some((i) => (i.answer?.length ?? 0) > 0 || hasNestedAnswers(i.item));
}

const itemPath = (path: string, linkId: string) => `${path}.item.where(linkId='${linkId}')`;

function describe(a: QuestionnaireResponseItemAnswer): string {
  const v = answerValue(a);
  return v === undefined ? 'The answer' : `"${String(v)}"`;
}

function error(ctx: Ctx, expression: string, linkPath: string[], message: string, code: Issue['code']): void {
  ctx.issues.push({ code, diagnostics: `Item ${linkPath.join(' › ')}: ${message}`, expression: [expression] });
}
