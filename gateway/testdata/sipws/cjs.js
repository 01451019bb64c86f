// A tiny synchronous CommonJS loader for the test pages: JsSIP ships as
// CommonJS only (lib/, no browser bundle), and the tests serve node_modules
// as it is rather than bundling it. Resolves ./relative, dir/index.js and
// bare package names (package.json "browser" string, else "main").
(function () {
  const cache = {};
  function fetchText(url) {
    const x = new XMLHttpRequest();
    x.open("GET", url, false);
    x.send();
    return x.status === 200 ? x.responseText : null;
  }
  function resolveFile(path) {
    // A bare path may also be a folder (whose listing the server sends).
    const tries = /\.(js|json)$/.test(path) ? [path] : [path + ".js", path + ".json", path + "/index.js"];
    for (const p of tries) {
      if (cache[p] || fetchText(p) !== null) return p;
    }
    throw new Error("cjs: cannot find " + path);
  }
  function resolve(name, from) {
    if (name.startsWith("./") || name.startsWith("../")) {
      return resolveFile(new URL(name, location.origin + from).pathname);
    }
    const pkg = "/node_modules/" + name;
    const meta = JSON.parse(fetchText(pkg + "/package.json"));
    const entry = typeof meta.browser === "string" ? meta.browser : meta.main || "index.js";
    return resolveFile(new URL(entry, location.origin + pkg + "/").pathname);
  }
  function load(path) {
    if (cache[path]) return cache[path].exports;
    const module = { exports: {} };
    cache[path] = module;
    const src = fetchText(path);
    if (path.endsWith(".json")) {
      module.exports = JSON.parse(src);
      return module.exports;
    }
    const fn = new Function("require", "module", "exports", "process", src + "\n//# sourceURL=" + path);
    fn((n) => load(resolve(n, path)), module, module.exports, { env: {}, browser: true });
    return module.exports;
  }
  window.require = (name) => load(resolve(name, "/"));
})();
