// The scenario API (README "Scenario files"): load a file, expand its fleet, play its merged timeline.
export { ScenarioError, type Problem } from './errors.js';
export { countDevices, expandFleet, KIND_FORMATS } from './fleet.js';
export { INCIDENT_RULES } from './incidents.js';
export { loadScenario, parseScenario, type ParseOptions, type Scenario } from './load.js';
export { deriveRand } from './random.js';
export { ScenarioFileSchema, type ScenarioFile } from './schema.js';
export { formatDuration, formatLocal, parseDuration } from './time.js';
export { deviceContext, timeline, type DeviceModel } from './timeline.js';
