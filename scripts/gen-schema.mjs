#!/usr/bin/env node
// Generates the committed schema files (run with `npm run gen:schema`, which builds first):
//  - schema/scenario-v1.schema.json: the JSON Schema of scenario format v1, from the zod schema (editor completion).
//  - schema/resources/<group>_<version>_<Kind>.json: the field tree of every resource kind a scenario may use,
//    derived from the TypeScript declarations of kubernetes-models / @kubernetes-models/istio. Their bundled
//    validators accept unknown fields (a `rule:` typo for `rules:` passes), so validateResource walks these trees to
//    reject unknown fields. The TypeScript compiler is too slow to run at validation time, hence generated files.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const OBJECTISH = ts.TypeFlags.Object | ts.TypeFlags.Intersection;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const { scenarioJsonSchema } = await import(join(root, 'dist/scenario/json-schema.js'));
const { RESOURCE_KINDS } = await import(join(root, 'dist/scenario/resource-kinds.js'));

writeFileSync(join(root, 'schema/scenario-v1.schema.json'), JSON.stringify(scenarioJsonSchema(), null, 2) + '\n');
console.log('wrote schema/scenario-v1.schema.json');

function merge(a, b) {
  if (a === 0 || b === 0) return 0;
  if ('i' in a && 'i' in b) return { i: merge(a.i, b.i) };
  if ('m' in a && 'm' in b) return { m: merge(a.m, b.m) };
  if ('p' in a && 'p' in b) {
    const p = { ...a.p };
    for (const [k, v] of Object.entries(b.p)) p[k] = k in p ? merge(p[k], v) : v;
    return { p };
  }
  return 0;
}

/**
 * Shape: 0 = a scalar or anything (not walked further); {p: {name: Shape}} = an object with exactly these fields;
 * {i: Shape} = an array of; {m: Shape} = a map with free keys.
 */
const cache = new Map();
let checker;
function shapeOf(type, stack) {
  if (cache.has(type)) return cache.get(type);
  const shape = shapeOfUncached(type, stack);
  cache.set(type, shape);
  return shape;
}

function shapeOfUncached(type, stack) {
  if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return 0;
  if (type.isUnion()) {
    const parts = type.types.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
    const objects = parts.filter((t) => t.flags & OBJECTISH);
    if (objects.length === 0) return 0;
    if (objects.length !== parts.length) return 0; // object | scalar: too loose to judge field names safely
    // CRD one-of constraints become unions of the same object with different required fields: merge them.
    return objects.map((t) => shapeOf(t, stack)).reduce(merge);
  }
  if (!(type.flags & OBJECTISH)) return 0;
  if (checker.isArrayType(type)) return { i: shapeOf(checker.getTypeArguments(type)[0], stack) };
  if (type.isIntersection() && type.types.every((t) => checker.isArrayType(t))) {
    return { i: type.types.map((t) => shapeOf(checker.getTypeArguments(t)[0], stack)).reduce(merge) };
  }
  if (stack.has(type)) return 0;
  stack.add(type);
  try {
    const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
    const props = checker.getPropertiesOfType(type);
    if (index) return props.length === 0 ? { m: shapeOf(index.type, stack) } : 0;
    const p = {};
    for (const prop of props) p[prop.name] = shapeOf(checker.getTypeOfSymbol(prop), stack);
    return { p };
  } finally {
    stack.delete(type);
  }
}

function main() {
  const files = RESOURCE_KINDS.map((k) => ({ kind: k, file: join(root, 'node_modules', k.pkg, `${k.model}.d.ts`) }));
  const program = ts.createProgram(
    files.map((f) => f.file),
    { strict: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
  );
  checker = program.getTypeChecker();
  mkdirSync(join(root, 'schema/resources'), { recursive: true });

  for (const { kind, file } of files) {
    const source = program.getSourceFile(file);
    const iface = source.statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === `I${kind.kind}`);
    if (!iface) throw new Error(`no interface I${kind.kind} in ${file}`);
    const shape = shapeOf(checker.getTypeAtLocation(iface), new Set());
    const version = JSON.parse(readFileSync(join(root, 'node_modules', kind.pkg, 'package.json'), 'utf8')).version;
    const out = { generatedFrom: `${kind.pkg}@${version}`, apiVersion: kind.apiVersion, kind: kind.kind, shape };
    writeFileSync(join(root, 'schema/resources', kind.shapeFile), JSON.stringify(out) + '\n');
    console.log(`wrote schema/resources/${kind.shapeFile}`);
  }
}

main();
