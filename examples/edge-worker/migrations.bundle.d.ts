// Types for the generated migrations.bundle.js (written by build.ts or `strata bundle`).
import type { Bundle } from "../../core.ts";

declare const bundle: Bundle;
export default bundle;
