// TestSDKTypes: the members the real edgebox-call-1.js has (loaded here
// with node, then constructed) against the ones its .d.ts declares, read
// with the TypeScript compiler. Usage: node check.js TYPESCRIPT_DIR JS DTS
"use strict";
const fs = require("fs");
const vm = require("vm");
const [tsDir, jsPath, dtsPath] = process.argv.slice(2);
const ts = require(tsDir);

const sandbox = { EventTarget, CustomEvent, console };
sandbox.window = sandbox;
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(jsPath, "utf8"), sandbox, { filename: jsPath });
const C = sandbox.EdgeboxCall;
if (typeof C !== "function") throw new Error("the SDK defined no global EdgeboxCall");
const inst = new C({ url: "ws://127.0.0.1/v1/signal", token: "t" });
const pub = (n) => !n.startsWith("_") && n !== "constructor";
const js = {
  instance: new Set([...Object.keys(inst), ...Object.getOwnPropertyNames(C.prototype)].filter(pub)),
  static: new Set(Object.keys(C).filter(pub)),
  version: C.version,
  events: new Set([...fs.readFileSync(jsPath, "utf8").matchAll(/_emit\("([a-z_]+)"/g)].map((m) => m[1])),
};

const src = ts.createSourceFile(dtsPath, fs.readFileSync(dtsPath, "utf8"), ts.ScriptTarget.Latest, true);
const dts = { instance: new Set(), static: new Set(), events: new Set() };
src.forEachChild((n) => {
  if (ts.isClassDeclaration(n) && n.name.text === "EdgeboxCall") {
    for (const m of n.members) {
      if (!m.name) continue; // constructor
      const isStatic = (ts.getModifiers(m) || []).some((x) => x.kind === ts.SyntaxKind.StaticKeyword);
      (isStatic ? dts.static : dts.instance).add(m.name.text);
    }
  }
  if (ts.isInterfaceDeclaration(n) && n.name.text === "EdgeboxCallEventMap") {
    for (const m of n.members) dts.events.add(m.name.text);
  }
});
// addEventListener/removeEventListener are EventTarget's, typed in the .d.ts
for (const n of ["addEventListener", "removeEventListener"]) dts.instance.delete(n);

const out = { problems: [], version: js.version, events: [...js.events] };
for (const k of ["instance", "static", "events"]) {
  for (const n of js[k]) if (!dts[k].has(n)) out.problems.push(`${k} ${n}: in edgebox-call-1.js, not in the .d.ts`);
  for (const n of dts[k]) if (!js[k].has(n)) out.problems.push(`${k} ${n}: in the .d.ts, not in edgebox-call-1.js`);
}
console.log(JSON.stringify(out));
