// Works around a V8 crash on Node 20: with TurboFan's inlining of JS→Wasm calls on (the default), a lazy
// deoptimization of a frame that inlined a Cedar wasm call aborts the whole process with "Fatal error ...
// unreachable code" in Deoptimizer::DoComputeBuiltinContinuation. It reproduces in a few seconds when decisions
// interleave with ledger appends (engine + Log in one loop), and never with the inlining off
// (`--no-turbo-inline-js-wasm-calls`). The flag only stops TurboFan from inlining the JS→Wasm wrapper into JS
// callers, so it costs no measurable time; it is set before any Cedar call can be optimized. Process-wide, on
// purpose: any code path that calls Cedar hot would crash the same way.
import { setFlagsFromString } from 'node:v8';

const v8Major = Number(process.versions.v8.split('.')[0]);

/** Whether this process runs a V8 whose JS→Wasm inlining is turned off here (V8 12 and older: Node 20 and 22). */
export const JS_WASM_INLINING_DISABLED = v8Major <= 12;

if (JS_WASM_INLINING_DISABLED) setFlagsFromString('--no-turbo-inline-js-wasm-calls');
