// The shipped simulator scenarios (`vm sim --scenario NAME`): <name>.providers.json and <name>.workloads.json in this
// package's scenarios/ folder.
import { fileURLToPath } from 'node:url';

/** The folder of the shipped scenarios. */
export const SCENARIOS_DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));
