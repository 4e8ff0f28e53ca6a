/** Folders of the project, resolved from this file so they work from src/ (tsx) and dist/ (node). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PROFILES_DIR = path.join(PROJECT_ROOT, 'profiles');
export const FIXTURES_DIR = path.join(PROJECT_ROOT, 'fixtures');
