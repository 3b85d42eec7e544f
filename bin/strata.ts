#!/usr/bin/env node
// The npm bin: plain node runs the compiled form of this file (dist/bin/strata.js).
import { main } from "../lib/cli/main.ts";

await main();
