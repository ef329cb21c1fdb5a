#!/usr/bin/env -S node --max-semi-space-size=1
// The young generation capped at 1 MiB semi-spaces (V8 grows them to 16 MiB under traffic): ~20 MiB
// less resident memory at peak for a few more, shorter scavenges. Flags on this line are V8's only
// chance to size the heap; a lab that starts `node <bin>` reads them from here (meshNodeFlags).
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
