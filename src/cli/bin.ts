#!/usr/bin/env node
// The installed bin is the bundle of this file (scripts/bundle.mjs), which starts node with V8 flags.
import { COMMANDS } from './commands.js';
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2), COMMANDS);
