/**
 * The README's mapping table, generated from the mapping table itself so documentation and
 * behaviour cannot drift apart: `npx tsx -e "import('./src/bridges/mapping-doc.ts').then((m) => console.log(m.mappingTableMarkdown()))"`.
 */
import { MAPPING, NOT_MAPPED, type Conversion, type HealthConnectField, type MappingRow, type Range, type Ucum } from './mapping.js';

export function mappingTableMarkdown(): string {
  const conv = (units: Record<string, Conversion>): string => Object.entries(units).map(([u, c]) => describeConversion(u, c)).join(', ');
  const lines = [
    '| Measure | LOINC | UCUM | Category | effective[x] | HealthKit type (accepted units) | Google Fit data type (field, unit) | Health Connect record (field, units) | Plausible |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of MAPPING) {
    const codes = r.code.map((c) => c.code).join(' + ');
    const effective = r.effective === 'period' ? 'effectivePeriod' : 'effectiveDateTime (Period if the sample spans time)';
    if (r.kind === 'panel') {
      const comps = r.components;
      lines.push(
        `| ${r.text} | ${codes} panel; components ${comps.map((c) => `${c.code[0]!.code} ${c.text.toLowerCase()}`).join(', ')} | ${comps[0].ucum.code} | ${r.category} | ${effective} | \`${r.healthKit.correlationType}\` with ${comps.map((c) => `\`${c.healthKit.type}\` (${conv(c.healthKit.units)})`).join(' and ')} in \`objects\` | \`${r.googleFit.dataTypeName}\` (value[0] systolic, value[1] diastolic, mmHg) | \`${r.healthConnect.recordType}\` (systolic, diastolic: inMillimetersOfMercury) | ${comps.map((c) => `${c.key} ${describeRange(c.range, c.ucum)}`).join('; ')}; diastolic < systolic |`,
      );
    } else if (r.kind === 'duration') {
      lines.push(
        `| ${r.text} | ${codes} | ${r.ucum.code} | ${r.category} | ${effective} | \`${r.healthKit.type}\` (asleep values counted; in bed/awake rejected) | \`${r.googleFit.dataTypeName}\` (stages ${r.googleFit.counted.join(', ')} counted; 1 awake, 3 out of bed rejected) | \`${r.healthConnect.recordType}\` (stages ${Object.values(r.healthConnect.counted).join(', ')} counted) | ${describeRange(r.range, r.ucum)} per sample |`,
      );
    } else {
      const hk = r.healthKit ? `\`${r.healthKit.type}\` (${conv(r.healthKit.units)})` : '—';
      const gf = r.googleFit ? `\`${r.googleFit.dataTypeName}\` (value[${r.googleFit.field}].${r.googleFit.value}, ${describeConversion(r.googleFit.unit, r.googleFit.conversion)})` : '—';
      const hc = r.healthConnect ? `\`${r.healthConnect.recordType}\` (${describeHealthConnect(r.healthConnect)})` : '—';
      lines.push(`| ${r.text} | ${codes} | ${r.ucum.code} | ${r.category} | ${effective} | ${hk} | ${gf} | ${hc} | ${describeRange(r.range, r.ucum)} |`);
    }
  }
  return lines.join('\n');
}

/**
 * The same table turned around for integrators: one row per platform type (HealthKit type or Google
 * Fit data type) and the Observation it becomes. docs/bridges.md embeds this output verbatim, and a
 * test compares them.
 */
export function platformTableMarkdown(): string {
  const lines = [
    '| Platform | Type | Accepted unit → conversion | LOINC | UCUM | Category | effective[x] | Plausible (after conversion) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const effective = (r: MappingRow) => (r.effective === 'period' ? 'effectivePeriod' : 'effectiveDateTime¹');
  const codes = (r: { code: ReadonlyArray<{ code?: string }> }) => r.code.map((c) => c.code).join(' + ');
  const conv = (units: Record<string, Conversion>) => Object.entries(units).map(([u, c]) => describeConversion(u, c)).join('; ');
  for (const r of MAPPING) {
    if (r.kind === 'panel') {
      const [sys, dia] = r.components;
      const comps = `${codes(r)} panel: ${codes(sys)} systolic, ${codes(dia)} diastolic`;
      const hk = `\`${r.healthKit.correlationType}\` (\`${sys.healthKit.type}\` + \`${dia.healthKit.type}\` in \`objects\`)`;
      const range = `systolic ${describeRange(sys.range, sys.ucum)}; diastolic ${describeRange(dia.range, dia.ucum)}; diastolic < systolic`;
      lines.push(`| HealthKit | ${hk} | ${conv(sys.healthKit.units)} | ${comps} | ${sys.ucum.code} | ${r.category} | ${effective(r)} | ${range} |`);
      lines.push(`| Google Fit | \`${r.googleFit.dataTypeName}\` (value[0] systolic, value[1] diastolic) | ${sys.googleFit.unit} | ${comps} | ${sys.ucum.code} | ${r.category} | ${effective(r)} | ${range} |`);
      lines.push(`| Health Connect | \`${r.healthConnect.recordType}\` (\`${sys.healthConnect.field}\`, \`${dia.healthConnect.field}\`) | ${conv(sys.healthConnect.units)} | ${comps} | ${sys.ucum.code} | ${r.category} | ${effective(r)} | ${range} |`);
    } else if (r.kind === 'duration') {
      const hkCounted = r.healthKit.counted.map((v) => v.replace('HKCategoryValueSleepAnalysis', '')).join(', ');
      const range = `${describeRange(r.range, r.ucum)} per sample`;
      lines.push(`| HealthKit | \`${r.healthKit.type}\` | value ${hkCounted} → minutes of the period (InBed, Awake rejected) | ${codes(r)} | ${r.ucum.code} | ${r.category} | ${effective(r)} | ${range} |`);
      lines.push(`| Google Fit | \`${r.googleFit.dataTypeName}\` | stage ${r.googleFit.counted.join(', ')} → minutes of the period (1 awake, 3 out of bed rejected) | ${codes(r)} | ${r.ucum.code} | ${r.category} | ${effective(r)} | ${range} |`);
      const hcStages = Object.entries(r.healthConnect.counted).map(([n, name]) => `${n} ${name}`).join(', ');
      lines.push(`| Health Connect | \`${r.healthConnect.recordType}\` (\`stages[]\`) | stage ${hcStages} → minutes of each stage; no stages → the whole session (awake, out of bed, unknown rejected) | ${codes(r)} | ${r.ucum.code} | ${r.category} | ${effective(r)} | ${range} |`);
    } else {
      const range = describeRange(r.range, r.ucum);
      if (r.healthKit) lines.push(`| HealthKit | \`${r.healthKit.type}\` | ${conv(r.healthKit.units)} | ${codes(r)} | ${r.ucum.code} | ${r.category} | ${effective(r)} | ${range} |`);
      if (r.googleFit) lines.push(`| Google Fit | \`${r.googleFit.dataTypeName}\` | value[${r.googleFit.field}].${r.googleFit.value} ${describeConversion(r.googleFit.unit, r.googleFit.conversion)} | ${codes(r)} | ${r.ucum.code} | ${r.category} | ${effective(r)} | ${range} |`);
      if (r.healthConnect) lines.push(`| Health Connect | \`${r.healthConnect.recordType}\` | ${describeHealthConnect(r.healthConnect)} | ${codes(r)} | ${r.ucum.code} | ${r.category} | ${effective(r)} | ${range} |`);
    }
  }
  return lines.join('\n');
}

function describeHealthConnect(hc: HealthConnectField): string {
  const field = hc.series ? `samples[].${hc.field}` : hc.field;
  if (!hc.units) return `\`${field}\` (number)`;
  return Object.entries(hc.units).map(([u, c]) => describeConversion(`${field}.${u}`, c)).join('; ');
}

function describeConversion(unit: string, c: Conversion): string {
  if (c.scale === 1 && !c.offset) return unit;
  const offset = c.offset ? `(x ${c.offset < 0 ? '−' : '+'} ${Math.abs(c.offset)})` : 'x';
  const scale = Math.abs(c.scale - 5 / 9) < 1e-12 ? '5/9' : Math.abs(c.scale - 1 / 4.184) < 1e-12 ? '1/4.184' : Math.abs(c.scale - 1 / 4184) < 1e-12 ? '1/4184' : String(c.scale);
  return `${unit} → ${offset} × ${scale}`;
}

export function describeRange(range: Range, ucum: Ucum): string {
  return `${range.minExclusive ? '>' : '≥'} ${range.min} and ≤ ${range.max} ${ucum.code}`;
}

/** The platform types that are deliberately not imported, with why (docs/bridges.md embeds this list). */
export function notMappedMarkdown(): string {
  return Object.entries(NOT_MAPPED).map(([type, why]) => `- \`${type}\`: ${why}`).join('\n');
}
