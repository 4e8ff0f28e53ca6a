/**
 * FHIR resources written by the bridges: an Observation per measured sample, a Device per patient
 * and source app/device, and a Provenance per push and source naming the app (issue 6 §1).
 */
import type { Device, Identifier, Observation, Provenance, Quantity } from 'fhir/r4';
import { immutableConcept } from './grant.js';
import { CATEGORY_DISPLAY, OBSERVATION_CATEGORY, UCUM, type MappingRow, type Ucum } from './mapping.js';
import { hashParts, hashUuid, SID } from './identity.js';
import type { BridgeContext, DeviceEntry, MeasuredSample, SourceDescription, ValidSample } from './sample.js';

const PLATFORM_NAME = { healthkit: 'Apple Health (HealthKit)', 'google-fit': 'Google Fit', 'health-connect': 'Android Health Connect' } as const;

/**
 * The Health Connect clientRecordVersion of a stored Observation, for "a higher version updates": an
 * identifier `<client-record key>@<version>` beside the client-record identifier (the server validates
 * extensions and tag systems against profiles/, which bridges do not own; identifiers are free).
 */
export function versionIdentifier(key: string, version: number): { system: string; value: string } {
  return { system: SID.healthConnectClientRecordVersion, value: `${key}@${version}` };
}
/** The standard extension for the body position during the measurement (R4 core extension). */
const BODY_POSITION_URL = 'http://hl7.org/fhir/StructureDefinition/observation-bodyPosition';

/**
 * The Device entries of one push (its context), by source: a push's samples mostly share one source,
 * and each entry costs two SHA-256 digests and a Device resource (issue 11 §4: a quarter of converting
 * a HealthKit sample). Keyed by every field the entry is built from, so a hit is the same entry.
 */
const devicesOfPush = new WeakMap<BridgeContext, Map<string, DeviceEntry>>();

function deviceFor(source: SourceDescription, ctx: BridgeContext): DeviceEntry {
  let devices = devicesOfPush.get(ctx);
  if (!devices) devicesOfPush.set(ctx, (devices = new Map()));
  const key = JSON.stringify([ctx.patientId, source.platform, source.identity, source.appName, source.deviceName, source.manufacturer, source.model, source.hardwareVersion, source.dataSource]);
  let device = devices.get(key);
  if (!device) devices.set(key, (device = deviceEntry(source, ctx.patientId)));
  return device;
}

export function toValidSample(sample: MeasuredSample, ctx: BridgeContext): ValidSample {
  const device = deviceFor(sample.source, ctx);
  const id = sample.identifiers[0];
  return {
    index: sample.index,
    id: sample.id,
    status: 'valid',
    observation: buildObservation(sample, ctx.patientId, device),
    observationFullUrl: `urn:uuid:${hashUuid('observation', ctx.patientId, id.system!, id.value!)}`,
    device,
    ...(sample.note ? { note: sample.note } : {}),
    ...(sample.version ? { version: sample.version } : {}),
    ...(sample.record !== undefined ? { record: sample.record } : {}),
    ...(sample.part !== undefined ? { part: sample.part } : {}),
  };
}

/**
 * A row's category and code, made once and shared by every Observation of the row: immutable (deep
 * frozen), so the grant checker remembers its answer by their identity (grant.ts). The transaction
 * copies each resource before it is validated and stored (bundle/references.ts).
 */
const concepts = new WeakMap<MappingRow, Pick<Observation, 'category' | 'code'>>();

function conceptOf(row: MappingRow): Pick<Observation, 'category' | 'code'> {
  let concept = concepts.get(row);
  if (!concept) {
    concept = {
      category: immutableConcept([{ coding: [{ system: OBSERVATION_CATEGORY, code: row.category, display: CATEGORY_DISPLAY[row.category] }] }]),
      code: immutableConcept({ coding: row.code.map((c) => ({ ...c })), text: row.text }),
    };
    concepts.set(row, concept);
  }
  return concept;
}

export function buildObservation(sample: MeasuredSample, patientId: string, device: Pick<DeviceEntry, 'fullUrl' | 'appName'>): Observation {
  const { row } = sample;
  const patient = { reference: `Patient/${patientId}` };
  const { category, code } = conceptOf(row);
  const observation: Observation = {
    resourceType: 'Observation',
    identifier: sample.identifiers,
    status: 'final',
    category,
    code,
    subject: patient,
    // The patient's own device measured it: patient-generated data (access-spec §4.4 row 10).
    performer: [patient],
    device: { reference: device.fullUrl, display: device.appName },
  };
  if (sample.version) observation.identifier = [...sample.identifiers, versionIdentifier(sample.version.identifier.value!, sample.version.value)];
  // Only the platform's own words are kept: text-only CodeableConcepts, no guessed codes.
  const context = sample.context;
  if (context?.bodyPosition) observation.extension = [...(observation.extension ?? []), { url: BODY_POSITION_URL, valueCodeableConcept: { text: context.bodyPosition } }];
  if (context?.bodySite) observation.bodySite = { text: context.bodySite };
  if (context?.notes?.length) observation.note = context.notes.map((text) => ({ text }));
  const spansTime = sample.start.ms !== sample.end.ms;
  if (row.effective === 'period' || spansTime) observation.effectivePeriod = { start: sample.start.fhir, end: sample.end.fhir };
  else observation.effectiveDateTime = sample.start.fhir;

  if (row.kind === 'panel') {
    observation.component = (sample.components ?? []).map((c) => ({
      code: { coding: c.row.code.map((x) => ({ ...x })), text: c.row.text },
      valueQuantity: quantity(c.value, c.row.ucum),
    }));
  } else {
    observation.valueQuantity = quantity(sample.value!, row.ucum);
  }
  return observation;
}

function quantity(value: number, ucum: Ucum): Quantity {
  return { value, unit: ucum.unit, system: UCUM, code: ucum.code };
}

/** One Device per patient and source; its identifier is derived, so every push finds the same one. */
export function deviceEntry(source: SourceDescription, patientId: string): DeviceEntry {
  const value = hashParts('device', patientId, source.platform, ...source.identity);
  const identifier: Identifier = { system: SID.bridgeDevice, value };
  const names: NonNullable<Device['deviceName']> = [{ name: source.appName, type: 'user-friendly-name' }];
  if (source.deviceName && source.deviceName !== source.appName) names.push({ name: source.deviceName, type: 'other' });
  const resource: Device = {
    resourceType: 'Device',
    identifier: [identifier, ...(source.dataSource ? [{ system: SID.googleFitDataSource, value: source.dataSource }] : [])],
    status: 'active',
    ...(source.manufacturer ? { manufacturer: source.manufacturer } : {}),
    ...(source.model ? { modelNumber: source.model } : {}),
    deviceName: names,
    type: { text: `${PLATFORM_NAME[source.platform]} source` },
    ...(source.hardwareVersion ? { version: [{ type: { text: 'hardware' }, value: source.hardwareVersion }] } : {}),
    patient: { reference: `Patient/${patientId}` },
  };
  return { fullUrl: `urn:uuid:${hashUuid('device', value)}`, identifier, resource, appName: source.appName, platform: source.platform };
}

/**
 * The Provenance of one push from one source: the app is the author, the patient the informant,
 * and a proxy who pushed on the patient's behalf the enterer. R4 Provenance has no identifier, so
 * the push itself is the `source` entity, identified by a hash of the pushed sample identifiers:
 * repeating the same push finds this Provenance (conditional create) instead of writing another.
 */
export function buildProvenance(
  ctx: BridgeContext,
  device: DeviceEntry,
  targets: ReadonlyArray<{ fullUrl: string; identifier: Identifier }>,
): { identifier: Identifier; resource: Provenance; fullUrl: string } {
  const keys = targets.map((t) => `${t.identifier.system}|${t.identifier.value}`).sort();
  const value = hashParts('provenance', ctx.patientId, device.identifier.value!, ...keys);
  const identifier: Identifier = { system: SID.bridgePush, value };
  const patient = `Patient/${ctx.patientId}`;
  const agentType = (code: string, display: string) => ({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code, display }] });
  const resource: Provenance = {
    resourceType: 'Provenance',
    target: targets.map((t) => ({ reference: t.fullUrl })),
    recorded: ctx.now.toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE', display: 'create' }] },
    agent: [
      { type: agentType('author', 'Author'), who: { reference: device.fullUrl, display: device.appName } },
      { type: agentType('informant', 'Informant'), who: { reference: patient } },
      ...(ctx.enterer && ctx.enterer !== patient ? [{ type: agentType('enterer', 'Enterer'), who: { reference: ctx.enterer } }] : []),
    ],
    entity: [{ role: 'source', what: { identifier, display: `${PLATFORM_NAME[device.platform]} push from ${device.appName}` } }],
  };
  return { identifier, resource, fullUrl: `urn:uuid:${hashUuid('provenance', value)}` };
}
