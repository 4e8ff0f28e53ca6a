/**
 * The measurement context Health Connect records carry as integer constants (or, serialised by
 * name, as the constant's name): blood-pressure body position and location, body-temperature
 * location, blood-glucose specimen, relation to meal and meal type, device type. They are kept in the
 * Observation as the platform's own words (text-only bodySite, the R4 bodyPosition extension, notes)
 * rather than mapped to codes we would have to guess (issue 15 §1).
 */
import type { MeasuredSample } from './sample.js';

const BP_LOCATION = ['unknown', 'left wrist', 'right wrist', 'left upper arm', 'right upper arm'];
const BODY_POSITION = ['unknown', 'standing up', 'sitting down', 'lying down', 'reclining'];
const TEMPERATURE_LOCATION = ['unknown', 'armpit', 'finger', 'forehead', 'mouth', 'rectum', 'temporal artery', 'toe', 'ear', 'wrist', 'vagina'];
const SPECIMEN = ['unknown', 'interstitial fluid', 'capillary blood', 'plasma', 'serum', 'tears', 'whole blood'];
const RELATION_TO_MEAL = ['unknown', 'general', 'fasting', 'before meal', 'after meal'];
const MEAL_TYPE = ['unknown', 'breakfast', 'lunch', 'dinner', 'snack'];
const DEVICE_TYPE = ['unknown', 'watch', 'phone', 'scale', 'ring', 'head mounted', 'fitness band', 'chest strap', 'smart display'];

/** `3`, `"MEASUREMENT_LOCATION_LEFT_UPPER_ARM"`, `"left_upper_arm"` → "left upper arm"; unknown or absent → undefined. */
export function constantName(raw: unknown, names: readonly string[], prefix: string): string | undefined {
  let name: string | undefined;
  if (typeof raw === 'number' && Number.isInteger(raw)) name = names[raw];
  else if (typeof raw === 'string' && raw.trim()) {
    const text = raw.trim().replace(new RegExp(`^${prefix}_`, 'i'), '').replaceAll('_', ' ').toLowerCase();
    name = names.includes(text) ? text : /^\d+$/.test(text) ? names[Number(text)] : undefined;
  }
  return name && name !== 'unknown' ? name : undefined;
}

export function deviceTypeName(raw: unknown): string | undefined {
  return constantName(raw, DEVICE_TYPE, 'TYPE');
}

export function contextOf(recordType: string, raw: Record<string, unknown>): MeasuredSample['context'] {
  switch (recordType) {
    case 'BloodPressure': {
      const bodySite = constantName(raw.measurementLocation, BP_LOCATION, 'MEASUREMENT_LOCATION');
      const bodyPosition = constantName(raw.bodyPosition, BODY_POSITION, 'BODY_POSITION');
      return bodySite || bodyPosition ? { ...(bodySite ? { bodySite } : {}), ...(bodyPosition ? { bodyPosition } : {}) } : undefined;
    }
    case 'BodyTemperature': {
      const bodySite = constantName(raw.measurementLocation, TEMPERATURE_LOCATION, 'MEASUREMENT_LOCATION');
      return bodySite ? { bodySite } : undefined;
    }
    case 'BloodGlucose': {
      const specimen = constantName(raw.specimenSource, SPECIMEN, 'SPECIMEN_SOURCE');
      const relation = constantName(raw.relationToMeal, RELATION_TO_MEAL, 'RELATION_TO_MEAL');
      const meal = constantName(raw.mealType, MEAL_TYPE, 'MEAL_TYPE');
      const notes = [
        ...(specimen ? [`specimen: ${specimen}`] : []),
        ...(relation || meal ? [`relation to meal: ${[relation, meal && `(${meal})`].filter(Boolean).join(' ')}`] : []),
      ];
      return notes.length ? { notes } : undefined;
    }
    default:
      return undefined;
  }
}
