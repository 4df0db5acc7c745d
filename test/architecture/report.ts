#!/usr/bin/env node
// node dist/test/architecture/report.js: the import directions between the
// rooms of ARCHITECTURE.md (edges counted), the violations and the circles,
// for reading and for an issue's closing note. Not a test: it always exits 0.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkLayering, parseRooms, roomEdges } from './layering.js';
import { readSources, repoRoot } from './sources.js';

const root = repoRoot();
const rooms = parseRooms(readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8'));
const sources = readSources(root, ['scripts', 'recipes', 'runtime', 'native']);
const edges = [...roomEdges(sources, rooms)].sort((a, b) => (a[0] < b[0] ? -1 : 1));
const bad = checkLayering(sources, rooms);
console.log(`${sources.length} files; ${edges.reduce((n, [, c]) => n + c, 0)} import edges between rooms:`);
for (const [k, n] of edges) console.log(`  ${k.padEnd(32)} ${n}`);
const kinds = new Map<string, number>();
for (const v of bad) kinds.set(v.kind, (kinds.get(v.kind) ?? 0) + 1);
console.log(`violations: ${bad.length} (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'})`);
for (const v of bad) if (v.kind === 'circle') console.log(`  ${v.text}`);
