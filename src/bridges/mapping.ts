/**
 * The one mapping table of the HealthKit, Google Fit and Health Connect bridges (issues 6 and 15):
 * platform type → LOINC code, UCUM unit, Observation category, accepted source units with their
 * conversion, effective time or period, and the plausible range. Everything else in `bridges/` reads
 * this table; the README table is generated from it (`mapping-doc.ts`).
 *
 * Codes follow the FHIR R4 vital-signs profiles (https://hl7.org/fhir/R4/observation-vitalsigns.html):
 * 85354-9 panel with 8480-6 / 8462-4 components, 2708-6 + 59408-5 for pulse oximetry, UCUM units.
 * Sleep uses LOINC 93832-4 "Sleep duration", as in HL7's Personal Health Record IG value set
 * `pcd-sleep-observation-code` (http://hl7.org/fhir/uv/phr/ValueSet/pcd-sleep-observation-code).
 * Activity codes (issue 15) follow the LOINC pedometer/physical-activity terms used by HL7's Physical
 * Activity IG and HealthKitOnFHIR: 55430-3 walking distance, 41981-2 calories burned, 41982-0 body-fat
 * percentage, 80404-7 HRV (SDNN), 39106-0 skin temperature, 60842-2 VO2 (oxygen consumption).
 * Measures without a documented LOINC meaning (basal energy, RMSSD heart-rate variability) are not
 * mapped: they are reported as rejected with that reason rather than stored under a guessed code.
 */
import type { Coding } from 'fhir/r4';
import { LOINC, type Conversion, type MappingRow, type Ucum } from './mapping-types.js';

export * from './mapping-types.js';

const loinc = (code: string, display: string): Coding => ({ system: LOINC, code, display });
const SAME: Conversion = { scale: 1 };
const PER_MIN: Ucum = { code: '/min', unit: 'beats/minute' };
const MM_HG: Ucum = { code: 'mm[Hg]', unit: 'mmHg' };

/** androidx.health.connect.client.units: Mass, Length, Energy, Temperature, Percentage → target unit. */
const HC_MASS_KG: Record<string, Conversion> = {
  inKilograms: SAME,
  inGrams: { scale: 0.001 },
  inPounds: { scale: 0.45359237 },
  inOunces: { scale: 0.028349523125 },
  inMilligrams: { scale: 0.000001 },
  inMicrograms: { scale: 0.000000001 },
};
const HC_LENGTH_CM: Record<string, Conversion> = {
  inMeters: { scale: 100, hint: 'inMeters is metres' },
  inInches: { scale: 2.54 },
  inFeet: { scale: 30.48 },
  inKilometers: { scale: 100000 },
  inMiles: { scale: 160934.4 },
};
const HC_LENGTH_M: Record<string, Conversion> = {
  inMeters: SAME,
  inKilometers: { scale: 1000 },
  inMiles: { scale: 1609.344 },
  inFeet: { scale: 0.3048 },
  inInches: { scale: 0.0254 },
};
// Health Connect's Energy.inCalories is small calories (1 kcal = 1000 cal); inKilocalories is kcal.
const HC_ENERGY_KCAL: Record<string, Conversion> = {
  inKilocalories: SAME,
  inCalories: { scale: 0.001 },
  inKilojoules: { scale: 1 / 4.184 },
  inJoules: { scale: 1 / 4184 },
};
const HC_TEMPERATURE: Record<string, Conversion> = { inCelsius: SAME, inFahrenheit: { offset: -32, scale: 5 / 9 } };
const HC_PERCENT: Record<string, Conversion> = { value: SAME };
const HK_TEMPERATURE: Record<string, Conversion> = { degC: SAME, degF: { offset: -32, scale: 5 / 9 } };
// HealthKit's percent unit is a fraction of one (HKUnit.percent(): 0.97 means 97 %).
const HK_FRACTION: Record<string, Conversion> = { '%': { scale: 100, hint: 'HealthKit % values are fractions of 1 (0.97 = 97 %)' } };

export const MAPPING: readonly MappingRow[] = [
  {
    kind: 'quantity',
    key: 'heart-rate',
    code: [loinc('8867-4', 'Heart rate')],
    text: 'Heart rate',
    category: 'vital-signs',
    effective: 'instant',
    ucum: PER_MIN,
    decimals: 0,
    range: { min: 0, minExclusive: true, max: 300 },
    // iOS 8/9 exports wrote heart rate as count/s (HKUnit count/second).
    healthKit: { type: 'HKQuantityTypeIdentifierHeartRate', units: { 'count/min': SAME, 'count/s': { scale: 60 } } },
    googleFit: { dataTypeName: 'com.google.heart_rate.bpm', field: 0, value: 'fpVal', unit: 'bpm', conversion: SAME },
    healthConnect: { recordType: 'HeartRate', field: 'beatsPerMinute', series: true },
  },
  {
    kind: 'quantity',
    key: 'resting-heart-rate',
    code: [loinc('40443-4', 'Heart rate --resting')],
    text: 'Resting heart rate',
    category: 'vital-signs',
    effective: 'instant',
    ucum: PER_MIN,
    decimals: 0,
    range: { min: 0, minExclusive: true, max: 300 },
    healthKit: { type: 'HKQuantityTypeIdentifierRestingHeartRate', units: { 'count/min': SAME, 'count/s': { scale: 60 } } },
    healthConnect: { recordType: 'RestingHeartRate', field: 'beatsPerMinute' },
  },
  {
    // SDNN, as HealthKit measures it. Health Connect measures RMSSD, which has no LOINC code of its own
    // and is a different statistic: it is not stored under this code.
    kind: 'quantity',
    key: 'heart-rate-variability',
    code: [loinc('80404-7', 'R-R interval.standard deviation (Heart rate variability)')],
    text: 'Heart rate variability (SDNN)',
    category: 'vital-signs',
    effective: 'instant',
    ucum: { code: 'ms', unit: 'ms' },
    decimals: 1,
    range: { min: 0, minExclusive: true, max: 1000 },
    healthKit: { type: 'HKQuantityTypeIdentifierHeartRateVariabilitySDNN', units: { ms: SAME, s: { scale: 1000 } } },
  },
  {
    kind: 'quantity',
    key: 'body-weight',
    code: [loinc('29463-7', 'Body weight')],
    text: 'Body weight',
    category: 'vital-signs',
    effective: 'instant',
    ucum: { code: 'kg', unit: 'kg' },
    decimals: 2,
    range: { min: 0, minExclusive: true, max: 700 },
    healthKit: { type: 'HKQuantityTypeIdentifierBodyMass', units: { kg: SAME, g: { scale: 0.001 }, lb: { scale: 0.45359237 } } },
    googleFit: { dataTypeName: 'com.google.weight', field: 0, value: 'fpVal', unit: 'kg', conversion: SAME },
    healthConnect: { recordType: 'Weight', field: 'weight', units: HC_MASS_KG },
  },
  {
    kind: 'quantity',
    key: 'body-height',
    code: [loinc('8302-2', 'Body height')],
    text: 'Body height',
    category: 'vital-signs',
    effective: 'instant',
    ucum: { code: 'cm', unit: 'cm' },
    decimals: 1,
    range: { min: 0, minExclusive: true, max: 300 },
    healthKit: {
      type: 'HKQuantityTypeIdentifierHeight',
      units: { cm: SAME, m: { scale: 100, hint: 'm, not cm' }, in: { scale: 2.54 }, ft: { scale: 30.48 } },
    },
    googleFit: { dataTypeName: 'com.google.height', field: 0, value: 'fpVal', unit: 'm', conversion: { scale: 100, hint: 'Google Fit height is in metres' } },
    healthConnect: { recordType: 'Height', field: 'height', units: HC_LENGTH_CM },
  },
  {
    kind: 'quantity',
    key: 'bmi',
    code: [loinc('39156-5', 'Body mass index (BMI) [Ratio]')],
    text: 'Body mass index',
    category: 'vital-signs',
    effective: 'instant',
    ucum: { code: 'kg/m2', unit: 'kg/m2' },
    decimals: 1,
    range: { min: 0, minExclusive: true, max: 200 },
    healthKit: { type: 'HKQuantityTypeIdentifierBodyMassIndex', units: { count: SAME } },
  },
  {
    kind: 'quantity',
    key: 'body-fat',
    code: [loinc('41982-0', 'Percentage of body fat Measured')],
    text: 'Body fat percentage',
    category: 'vital-signs',
    effective: 'instant',
    ucum: { code: '%', unit: '%' },
    decimals: 1,
    range: { min: 0, minExclusive: true, max: 100 },
    healthKit: { type: 'HKQuantityTypeIdentifierBodyFatPercentage', units: HK_FRACTION },
    percentBy: { percentageFrom: 2 },
    googleFit: { dataTypeName: 'com.google.body.fat.percentage', field: 0, value: 'fpVal', unit: '%', conversion: SAME },
    healthConnect: { recordType: 'BodyFat', field: 'percentage', units: HC_PERCENT },
  },
  {
    kind: 'quantity',
    key: 'oxygen-saturation',
    // The vital-signs profile for pulse oximetry requires both codes.
    code: [loinc('2708-6', 'Oxygen saturation in Arterial blood'), loinc('59408-5', 'Oxygen saturation in Arterial blood by Pulse oximetry')],
    text: 'Oxygen saturation',
    category: 'vital-signs',
    effective: 'instant',
    ucum: { code: '%', unit: '%' },
    decimals: 1,
    range: { min: 0, minExclusive: true, max: 100 },
    healthKit: { type: 'HKQuantityTypeIdentifierOxygenSaturation', units: HK_FRACTION },
    // A saturation below 50 % is not a pulse-oximetry reading; 1.02 is a fraction slightly over 1 (a unit bug).
    percentBy: { percentageFrom: 50 },
    googleFit: { dataTypeName: 'com.google.oxygen_saturation', field: 0, value: 'fpVal', unit: '%', conversion: SAME },
    healthConnect: { recordType: 'OxygenSaturation', field: 'percentage', units: HC_PERCENT },
  },
  {
    kind: 'quantity',
    key: 'body-temperature',
    code: [loinc('8310-5', 'Body temperature')],
    text: 'Body temperature',
    category: 'vital-signs',
    effective: 'instant',
    ucum: { code: 'Cel', unit: 'C' },
    decimals: 2,
    range: { min: 20, max: 46 },
    healthKit: { type: 'HKQuantityTypeIdentifierBodyTemperature', units: HK_TEMPERATURE },
    googleFit: { dataTypeName: 'com.google.body.temperature', field: 0, value: 'fpVal', unit: 'Cel', conversion: SAME },
    healthConnect: { recordType: 'BodyTemperature', field: 'temperature', units: HC_TEMPERATURE },
  },
  {
    // Apple Watch's sleeping wrist temperature is skin temperature, a few degrees below core body
    // temperature: stored as 39106-0 "Temperature of Skin", never as 8310-5, so 34 °C is not read as hypothermia.
    kind: 'quantity',
    key: 'wrist-temperature',
    code: [loinc('39106-0', 'Temperature of Skin')],
    text: 'Wrist temperature (skin, during sleep)',
    category: 'vital-signs',
    effective: 'instant',
    ucum: { code: 'Cel', unit: 'C' },
    decimals: 2,
    range: { min: 20, max: 45 },
    healthKit: { type: 'HKQuantityTypeIdentifierAppleSleepingWristTemperature', units: HK_TEMPERATURE },
  },
  {
    kind: 'quantity',
    key: 'respiratory-rate',
    code: [loinc('9279-1', 'Respiratory rate')],
    text: 'Respiratory rate',
    category: 'vital-signs',
    effective: 'instant',
    ucum: { code: '/min', unit: 'breaths/minute' },
    decimals: 0,
    range: { min: 0, minExclusive: true, max: 150 },
    healthKit: { type: 'HKQuantityTypeIdentifierRespiratoryRate', units: { 'count/min': SAME } },
    healthConnect: { recordType: 'RespiratoryRate', field: 'rate' },
  },
  {
    // Blood glucose is kept in the unit it was measured in: mass concentration → 2339-0 …
    kind: 'quantity',
    key: 'blood-glucose-mass',
    code: [loinc('2339-0', 'Glucose [Mass/volume] in Blood')],
    text: 'Blood glucose',
    category: 'vital-signs',
    effective: 'instant',
    ucum: { code: 'mg/dL', unit: 'mg/dL' },
    decimals: 0,
    range: { min: 0, minExclusive: true, max: 2000 },
    healthKit: { type: 'HKQuantityTypeIdentifierBloodGlucose', units: { 'mg/dL': SAME } },
    healthConnect: { recordType: 'BloodGlucose', field: 'level', units: { inMilligramsPerDeciliter: SAME } },
  },
  {
    // … molar concentration → 15074-8 (HealthKit writes mmol/L as `mmol<180.15588000005408>/L`).
    kind: 'quantity',
    key: 'blood-glucose-molar',
    code: [loinc('15074-8', 'Glucose [Moles/volume] in Blood')],
    text: 'Blood glucose',
    category: 'vital-signs',
    effective: 'instant',
    ucum: { code: 'mmol/L', unit: 'mmol/L' },
    decimals: 1,
    range: { min: 0, minExclusive: true, max: 111 },
    healthKit: { type: 'HKQuantityTypeIdentifierBloodGlucose', units: { 'mmol/L': SAME } },
    googleFit: { dataTypeName: 'com.google.blood_glucose', field: 0, value: 'fpVal', unit: 'mmol/L', conversion: SAME },
    // Health Connect stores glucose in mmol/L; when a serialiser writes both units, this one is used.
    healthConnect: { recordType: 'BloodGlucose', field: 'level', units: { inMillimolesPerLiter: SAME }, preferred: true },
  },
  {
    kind: 'quantity',
    key: 'steps',
    code: [loinc('55423-8', 'Number of steps in unspecified time Pedometer')],
    text: 'Step count',
    category: 'activity',
    effective: 'period',
    ucum: { code: '{steps}', unit: 'steps' },
    decimals: 0,
    range: { min: 0, max: 200000 },
    healthKit: { type: 'HKQuantityTypeIdentifierStepCount', units: { count: SAME } },
    googleFit: { dataTypeName: 'com.google.step_count.delta', field: 0, value: 'intVal', unit: 'steps', conversion: SAME },
    healthConnect: { recordType: 'Steps', field: 'count' },
  },
  {
    kind: 'quantity',
    key: 'distance',
    code: [loinc('55430-3', 'Walking distance unspecified time Pedometer')],
    text: 'Walking and running distance',
    category: 'activity',
    effective: 'period',
    ucum: { code: 'm', unit: 'm' },
    decimals: 1,
    range: { min: 0, max: 300000 },
    healthKit: {
      type: 'HKQuantityTypeIdentifierDistanceWalkingRunning',
      units: { m: SAME, km: { scale: 1000 }, mi: { scale: 1609.344 }, ft: { scale: 0.3048 }, yd: { scale: 0.9144 } },
    },
    googleFit: { dataTypeName: 'com.google.distance.delta', field: 0, value: 'fpVal', unit: 'm', conversion: SAME },
    healthConnect: { recordType: 'Distance', field: 'distance', units: HC_LENGTH_M },
  },
  {
    // Active energy only: Google Fit's com.google.calories.expended is total energy (basal included),
    // so it is not mapped here.
    kind: 'quantity',
    key: 'active-energy',
    code: [loinc('41981-2', 'Calories burned')],
    text: 'Active energy burned',
    category: 'activity',
    effective: 'period',
    ucum: { code: 'kcal', unit: 'kcal' },
    decimals: 1,
    range: { min: 0, max: 20000 },
    // HealthKit's `Cal` is the large (food) calorie, i.e. kcal.
    healthKit: { type: 'HKQuantityTypeIdentifierActiveEnergyBurned', units: { kcal: SAME, Cal: SAME, cal: { scale: 0.001 }, kJ: { scale: 1 / 4.184 }, J: { scale: 1 / 4184 } } },
    healthConnect: { recordType: 'ActiveCaloriesBurned', field: 'energy', units: HC_ENERGY_KCAL },
  },
  {
    kind: 'quantity',
    key: 'vo2-max',
    code: [loinc('60842-2', 'Oxygen consumption (VO2)')],
    text: 'VO2 max',
    category: 'activity',
    effective: 'instant',
    ucum: { code: 'mL/(kg.min)', unit: 'mL/kg/min' },
    decimals: 1,
    range: { min: 0, minExclusive: true, max: 100 },
    healthKit: { type: 'HKQuantityTypeIdentifierVO2Max', units: { 'mL/min·kg': SAME, 'mL/(kg*min)': SAME, 'ml/(kg*min)': SAME, 'mL/kg/min': SAME } },
    healthConnect: { recordType: 'Vo2Max', field: 'vo2MillilitersPerMinuteKilogram' },
  },
  {
    kind: 'panel',
    key: 'blood-pressure',
    code: [loinc('85354-9', 'Blood pressure panel with all children optional')],
    text: 'Blood pressure',
    category: 'vital-signs',
    effective: 'instant',
    components: [
      {
        key: 'systolic',
        code: [loinc('8480-6', 'Systolic blood pressure')],
        text: 'Systolic blood pressure',
        ucum: MM_HG,
        decimals: 0,
        range: { min: 0, minExclusive: true, max: 300 },
        healthKit: { type: 'HKQuantityTypeIdentifierBloodPressureSystolic', units: { mmHg: SAME } },
        googleFit: { field: 0, unit: 'mmHg', conversion: SAME },
        healthConnect: { field: 'systolic', units: { inMillimetersOfMercury: SAME } },
      },
      {
        key: 'diastolic',
        code: [loinc('8462-4', 'Diastolic blood pressure')],
        text: 'Diastolic blood pressure',
        ucum: MM_HG,
        decimals: 0,
        range: { min: 0, minExclusive: true, max: 250 },
        healthKit: { type: 'HKQuantityTypeIdentifierBloodPressureDiastolic', units: { mmHg: SAME } },
        googleFit: { field: 1, unit: 'mmHg', conversion: SAME },
        healthConnect: { field: 'diastolic', units: { inMillimetersOfMercury: SAME } },
      },
    ],
    healthKit: { correlationType: 'HKCorrelationTypeIdentifierBloodPressure' },
    googleFit: { dataTypeName: 'com.google.blood_pressure', value: 'fpVal' },
    healthConnect: { recordType: 'BloodPressure' },
  },
  {
    // Sleep data is an "activity" observation per the observation-category code system definition.
    kind: 'duration',
    key: 'sleep-duration',
    code: [loinc('93832-4', 'Sleep duration')],
    text: 'Sleep duration',
    category: 'activity',
    effective: 'period',
    ucum: { code: 'min', unit: 'min' },
    range: { min: 0, minExclusive: true, max: 1440 },
    healthKit: {
      type: 'HKCategoryTypeIdentifierSleepAnalysis',
      counted: [
        'HKCategoryValueSleepAnalysisAsleep',
        'HKCategoryValueSleepAnalysisAsleepUnspecified',
        'HKCategoryValueSleepAnalysisAsleepCore',
        'HKCategoryValueSleepAnalysisAsleepDeep',
        'HKCategoryValueSleepAnalysisAsleepREM',
      ],
      notCounted: {
        HKCategoryValueSleepAnalysisInBed: 'time in bed is not sleep',
        HKCategoryValueSleepAnalysisAwake: 'awake time is not sleep',
      },
      rawValues: [
        'HKCategoryValueSleepAnalysisInBed',
        'HKCategoryValueSleepAnalysisAsleepUnspecified',
        'HKCategoryValueSleepAnalysisAwake',
        'HKCategoryValueSleepAnalysisAsleepCore',
        'HKCategoryValueSleepAnalysisAsleepDeep',
        'HKCategoryValueSleepAnalysisAsleepREM',
      ],
    },
    // Google Fit sleep stages: 1 awake, 2 sleep, 3 out of bed, 4 light, 5 deep, 6 REM.
    googleFit: { dataTypeName: 'com.google.sleep.segment', field: 0, counted: [2, 4, 5, 6], notCounted: { 1: 'awake time is not sleep', 3: 'out-of-bed time is not sleep' } },
    // SleepSessionRecord.STAGE_TYPE_*: 0 unknown, 1 awake, 2 sleeping, 3 out of bed, 4 light, 5 deep, 6 REM, 7 awake in bed.
    healthConnect: {
      recordType: 'SleepSession',
      counted: { 2: 'SLEEPING', 4: 'LIGHT', 5: 'DEEP', 6: 'REM' },
      notCounted: { 0: 'a stage of unknown type is not counted as sleep', 1: 'awake time is not sleep', 3: 'out-of-bed time is not sleep', 7: 'awake time in bed is not sleep' },
    },
  },
];

/**
 * Platform types that are deliberately not imported, with the reason given back to the sender: there
 * is no documented LOINC meaning for them (issue 15: "mapped only where a documented LOINC meaning exists").
 */
export const NOT_MAPPED: Readonly<Record<string, string>> = {
  HKQuantityTypeIdentifierBasalEnergyBurned: 'basal (resting) energy has no documented LOINC code; not imported',
  BasalMetabolicRate: 'basal metabolic rate has no documented LOINC code; not imported',
  HeartRateVariabilityRmssd: 'RMSSD heart-rate variability has no LOINC code (80404-7 is SDNN, a different statistic); not imported',
  'com.google.calories.expended': 'Google Fit calories are total energy (basal included), which has no documented LOINC code; not imported',
};

/** HealthKit spells the molar unit of glucose with its molar mass; the mapping needs the plain unit. */
export function normalizeHealthKitUnit(unit: string): string {
  return /^mmol<[\d.]+>\/L$/.test(unit) ? 'mmol/L' : unit;
}

/** HealthKit blood-pressure components only ever arrive inside their correlation. */
export const HEALTHKIT_BP_COMPONENT_TYPES: readonly string[] = MAPPING.flatMap((r) => (r.kind === 'panel' ? r.components.map((c) => c.healthKit.type) : []));

/** The rows of each HealthKit type, in table order; looked up once per sample, so made once. */
const HEALTHKIT_ROWS = new Map<string, readonly MappingRow[]>();
for (const r of MAPPING) {
  const type = r.kind === 'panel' ? r.healthKit.correlationType : r.healthKit?.type;
  if (type !== undefined) HEALTHKIT_ROWS.set(type, [...(HEALTHKIT_ROWS.get(type) ?? []), r]);
}
const NO_ROWS: readonly MappingRow[] = Object.freeze([]);

export function rowsForHealthKitType(type: string): readonly MappingRow[] {
  return HEALTHKIT_ROWS.get(type) ?? NO_ROWS;
}

export function rowForGoogleFitType(dataTypeName: string): MappingRow | undefined {
  return MAPPING.find((r) => r.googleFit?.dataTypeName === dataTypeName);
}

export function rowsForHealthConnectType(recordType: string): MappingRow[] {
  return MAPPING.filter((r) => r.healthConnect?.recordType === recordType);
}

export const HEALTHKIT_TYPES: readonly string[] = [...new Set(MAPPING.flatMap((r) => (r.kind === 'panel' ? [r.healthKit.correlationType] : r.healthKit ? [r.healthKit.type] : [])))];
export const GOOGLE_FIT_TYPES: readonly string[] = MAPPING.flatMap((r) => (r.googleFit ? [r.googleFit.dataTypeName] : []));
export const HEALTH_CONNECT_TYPES: readonly string[] = [...new Set(MAPPING.flatMap((r) => (r.healthConnect ? [r.healthConnect.recordType] : [])))];
