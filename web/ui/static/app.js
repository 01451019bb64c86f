// edgebox UI: forms post JSON to /api/v1 with the session's CSRF token and
// show each validation message next to its field. No framework, no CDN.
"use strict";
(function () {
  // let: a login made again on this page (relogin) brings a new token.
  let csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  // Texts in the page's language (the layout's ui-strings; English is the key).
  let S = {};
  try { S = JSON.parse((document.getElementById("ui-strings") || {}).textContent || "{}"); } catch (e) { S = {}; }
  const t = k => S[k] || k;

  const offline = () => t("The box did not answer: it may be restarting, or this device lost its connection to it. Check the connection, wait a minute, then try again.");

  async function api(method, path, body, again) {
    const opt = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    let r;
    try { r = await fetch(path, opt); } catch (e) {
      // No answer at all: the box is restarting, or the phone left its Wi-Fi.
      return { ok: false, status: 0, data: { error: offline() } };
    }
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!again && await loginLost(r.status, data)) return api(method, path, body, true);
    return { ok: r.ok, status: r.status, data };
  }

  // A page left open past the login's end (idle too long, the longest a
  // login lasts, a clock corrected: the box's 401 says which), or one
  // whose login another tab replaced: what was typed on it must not be
  // lost to a trip through the login page, which keeps no secrets. The
  // password is asked for here, and the request that failed is made again.
  const authed = !!document.querySelector('form[action="/logout"]');
  async function loginLost(status, data) {
    if (!authed) return false;
    if (status === 403) {
      // Another tab logged in again: this page's token is the old one.
      try {
        const r = await fetch("/api/v1/session", { credentials: "same-origin", cache: "no-store" });
        const d = r.ok ? await r.json() : null;
        if (d && d.csrf_token && d.csrf_token !== csrf) { setCSRF(d.csrf_token); return true; }
      } catch (e) { /* offline: the caller says so */ }
      return false;
    }
    return status === 401 && relogin(data && data.error);
  }
  // sessionKept asks the box whether this browser sent the session
  // cookie it was just given.
  async function sessionKept() {
    try {
      const r = await fetch("/api/v1/session", { credentials: "same-origin", cache: "no-store" });
      const d = r.ok ? await r.json() : null;
      return !!(d && d.csrf_token);
    } catch (e) { return true; } // offline: the next page says so
  }
  function setCSRF(tok) {
    csrf = tok;
    const m = document.querySelector('meta[name="csrf"]');
    if (m) m.content = tok;
    document.querySelectorAll('input[name="csrf"]').forEach(el => { el.value = tok; });
  }
  let reloginWait = null;
  function relogin(why) {
    if (reloginWait) return reloginWait;
    reloginWait = new Promise(resolve => {
      const box = document.createElement("div");
      box.id = "relogin";
      box.className = "card narrow";
      const h = document.createElement("p");
      // why is the box's own sentence, in the page's language already
      h.textContent = (why || t("Your login has ended.")) + " " + t("Enter the password to go on: what you typed on this page stays, and is saved then.");
      const f = document.createElement("form");
      f.noValidate = true;
      const l = document.createElement("label");
      l.htmlFor = "relogin-pw";
      l.textContent = t("Password");
      const inp = document.createElement("input");
      inp.type = "password"; inp.id = "relogin-pw"; inp.autocomplete = "current-password";
      const n = document.createElement("div");
      n.className = "notice";
      const b = document.createElement("button");
      b.type = "submit"; b.id = "relogin-submit"; b.textContent = t("Log in");
      const fld = document.createElement("div");
      fld.className = "field";
      fld.append(l, inp);
      f.append(fld, n, b);
      box.append(h, f);
      f.addEventListener("submit", async ev => {
        ev.preventDefault();
        ev.stopPropagation();
        b.disabled = true;
        const r = await api("POST", "/api/v1/login", { username: "admin", password: inp.value }, true);
        b.disabled = false;
        if (!r.ok) {
          const msg = (r.data && r.data.error) || offline();
          const wait = r.status === 429 && /(\d+) s\b/.exec(msg);
          if (wait) countdown(n, msg, Number(wait[1])); else notice(n, "bad", msg);
          return;
        }
        setCSRF(r.data.csrf_token);
        box.remove();
        reloginWait = null;
        resolve(true);
      });
      const main = document.querySelector("main");
      main.insertBefore(box, main.firstChild);
      box.scrollIntoView({ block: "center" });
      inp.focus();
    });
    return reloginWait;
  }

  function notice(el, kind, text) {
    if (!el) return;
    el.className = "notice " + kind;
    el.textContent = text;
  }

  // clearErrors also clears the form's last notice and stops a running
  // check, so nothing stale stands next to a new answer.
  function clearErrors(form) {
    form.querySelectorAll(".field").forEach(f => f.classList.remove("has-error"));
    form.querySelectorAll(".err").forEach(e => { e.textContent = ""; });
    const n = form.querySelector(".notice");
    if (n) { n.className = "notice"; n.textContent = ""; }
    const check = document.getElementById("check");
    if (check && form.dataset.step) { checkRun++; check.hidden = true; check.textContent = ""; }
  }

  function fieldError(form, path, msg) {
    const e = form.querySelector('.err[data-for="' + CSS.escape(path) + '"]');
    if (!e) return false;
    e.textContent = msg;
    const f = e.closest(".field");
    if (f) f.classList.add("has-error");
    return true;
  }

  // showErrors puts field errors next to their fields; the others go to the
  // form's notice. A path matches the field it names or its closest parent.
  function showErrors(form, errors, fallback) {
    const rest = [];
    (errors || []).forEach(er => {
      let p = er.field || "";
      let shown = false;
      while (p && !shown) {
        shown = fieldError(form, p, er.message);
        if (!shown) p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "";
      }
      if (!shown) rest.push((er.field ? er.field + ": " : "") + er.message);
    });
    if (rest.length || !errors || !errors.length) {
      notice(form.querySelector(".notice"), "bad", rest.length ? rest.join("\n") : fallback);
    }
  }

  function valueOf(el) {
    const kind = el.dataset.kind || el.type;
    if (kind === "checkbox") return el.checked;
    if (kind === "number") return el.value === "" ? 0 : Number(el.value);
    if (kind === "list") return el.value.split(/[\s,;]+/).filter(Boolean);
    return el.value;
  }

  let checkRun = 0;
  async function pollCheck(box, step) {
    const start = Date.now(), until = start + 90000;
    const run = ++checkRun;
    box.hidden = false;
    while (Date.now() < until) {
      const r = await api("GET", "/api/v1/wizard/" + step + "/check");
      if (run !== checkRun) return; // a newer save took over
      if (r.ok && r.data) {
        const d = r.data;
        // Right after a save the services may still report the state from
        // before it (the SIM asks for the PIN that was just saved): a
        // failure counts once it outlasts their reload, not before.
        const early = d.state === "fail" && Date.now() - start < 10000;
        notice(box, d.state === "ok" ? "ok" : d.state === "fail" && !early ? "bad" : "info", d.message);
        if (d.state === "ok" || (d.state === "fail" && !early) || d.state === "na") return;
      } else {
        notice(box, "bad", (r.data && r.data.error) || t("Could not check the result."));
        return;
      }
      await new Promise(res => setTimeout(res, 2000));
      if (run !== checkRun) return;
    }
    notice(box, "warn", box.textContent + " " + t("Still waiting after 90 s: check the dashboard."));
  }

  // A config form sends only what was changed on this page: a second tab,
  // or a page left open since the morning, must not put back the values
  // it showed when it was loaded over what was saved since.
  const shown = el => JSON.stringify(valueOf(el));
  document.querySelectorAll('form[data-form="config"] [data-path]').forEach(el => { el.dataset.orig = shown(el); });

  async function submitConfig(form) {
    clearErrors(form);
    const settings = {};
    form.querySelectorAll("[data-path]").forEach(el => {
      if (el.dataset.secret && el.value === "") return; // unchanged
      if (!el.dataset.secret && shown(el) === el.dataset.orig) return;
      settings[el.dataset.path] = valueOf(el);
    });
    const check = document.getElementById("check");
    if (!Object.keys(settings).length) {
      dropDraft(form);
      notice(form.querySelector(".notice"), "ok", t("Nothing to save: the box already has these values."));
      if (check && form.dataset.step) pollCheck(check, form.dataset.step);
      return;
    }
    const r = await api("POST", "/api/v1/config/set", { settings });
    if (!r.ok) {
      showErrors(form, r.data && r.data.errors, (r.data && r.data.error) || t("Not saved: the box refused the change. Reload the page and try again."));
      return;
    }
    delete form.dataset.dirty;
    // Show what was stored where it differs from what was typed.
    Object.entries(r.data.tidied || {}).forEach(([p, v]) => {
      const el = form.querySelector('[data-path="' + CSS.escape(p) + '"]');
      if (el && !el.dataset.secret) el.value = Array.isArray(v) ? v.join(", ") : v;
    });
    // A saved secret is not kept in the page (it is never sent back):
    // the field says it is stored, as it does after a reload.
    form.querySelectorAll("[data-secret]").forEach(el => {
      if (el.value !== "") { el.value = ""; el.placeholder = t("(unchanged — type to replace)"); }
    });
    form.querySelectorAll("[data-path]").forEach(el => { el.dataset.orig = shown(el); });
    dropDraft(form);
    let msg = t("Saved and applied.");
    if (r.data.reload_errors && r.data.reload_errors.length) msg = t("Saved. It takes effect when the box restarts: the running services could not be asked to apply it now.");
    // The LAN moved: this page's address goes away; say where the box is.
    const moved = (r.data.lan_moved || []).map(m => m.message);
    if (moved.length) msg += "\n" + moved.join("\n");
    notice(form.querySelector(".notice"), moved.length ? "warn" : "ok", msg);
    if (check && form.dataset.step) pollCheck(check, form.dataset.step);
  }

  // Drafts: what was typed in a setup step and not saved survives a
  // reload (or the phone's browser dropping the tab), in this tab only;
  // secrets are never kept.
  const draftKey = form => "draft:" + location.pathname + "#" + (form.id || "");
  function dropDraft(form) { try { sessionStorage.removeItem(draftKey(form)); } catch (e) { /* private mode */ } }
  document.querySelectorAll('form[data-form="config"][data-step]').forEach(form => {
    const save = () => {
      const d = {};
      form.querySelectorAll("[data-path]").forEach(el => {
        if (!el.dataset.secret && shown(el) !== el.dataset.orig) d[el.dataset.path] = el.type === "checkbox" ? el.checked : el.value;
      });
      try {
        if (Object.keys(d).length) sessionStorage.setItem(draftKey(form), JSON.stringify(d));
        else sessionStorage.removeItem(draftKey(form));
      } catch (e) { /* private mode */ }
    };
    form.addEventListener("input", save);
    form.addEventListener("change", save);
    let d = null;
    try { d = JSON.parse(sessionStorage.getItem(draftKey(form)) || "null"); } catch (e) { d = null; }
    if (!d) return;
    let back = 0;
    Object.entries(d).forEach(([p, v]) => {
      const el = form.querySelector('[data-path="' + CSS.escape(p) + '"]');
      if (!el) return;
      if (el.type === "checkbox") el.checked = v; else el.value = v;
      back++;
    });
    if (!back) return;
    form.dataset.dirty = "1";
    notice(form.querySelector(".notice"), "warn", t("What you typed here before the page was reloaded is back, but not saved yet: check it and tap “Save and apply”."));
  });

  // countdown keeps a "wait N s" message current until the wait is over.
  function countdown(el, msg, sec) {
    if (el._timer) clearInterval(el._timer);
    const end = Date.now() + sec * 1000;
    const tick = () => {
      const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
      notice(el, left ? "bad" : "info", left ? msg.replace(/(\d+) s\b/, left + " s") : t("You may try again now."));
      if (!left) clearInterval(el._timer);
    };
    tick();
    el._timer = setInterval(tick, 1000);
  }

  async function submitJSON(form) {
    clearErrors(form);
    const body = {};
    form.querySelectorAll("[name]").forEach(el => {
      if (el.type === "file") return;
      body[el.name] = valueOf(el);
    });
    if (form.dataset.confirmField) {
      const a = form.querySelector('[name="' + form.dataset.confirmField + '"]');
      const b = form.querySelector('[data-confirm-of]');
      if (a && b && a.value !== b.value) {
        fieldError(form, form.dataset.confirmField + "_confirm", t("The two passwords differ: type the same one twice."));
        return;
      }
    }
    form.querySelectorAll("[data-confirm-of]").forEach(el => { delete body[el.name]; });
    const r = await api(form.dataset.method || "POST", form.dataset.action, body);
    if (!r.ok) {
      const msg = (r.data && r.data.error) || t("That did not work: reload the page and try again.");
      const m = /^([a-z_]+): ([\s\S]*)$/.exec(msg);
      const wait = r.status === 429 && /(\d+) s\b/.exec(msg);
      if (wait) countdown(form.querySelector(".notice"), msg, Number(wait[1]));
      else if (!(m && fieldError(form, m[1], m[2]))) notice(form.querySelector(".notice"), "bad", msg);
      return;
    }
    if (form.dataset.next) {
      // A login kept only in a cookie the browser refused (a privacy
      // setting, some private modes) would bring the login page back
      // empty after every right password: say so instead.
      if (r.data && r.data.csrf_token && !(await sessionKept())) {
        notice(form.querySelector(".notice"), "bad", t("The box took the password, but this browser does not keep the login: it blocks cookies for this page (a privacy setting or private mode). Allow cookies for this address, or open it in a normal window, then log in again."));
        return;
      }
      location.href = form.dataset.next;
      return;
    }
    const out = form.querySelector("[data-out]");
    if (out && r.data) {
      out.hidden = false;
      out.textContent = r.data[out.dataset.out] || "";
    }
    // A password change answers this browser's new session: the page
    // goes on with it, no reload that would hide what the answer says.
    if (r.data && r.data.csrf_token) setCSRF(r.data.csrf_token);
    if (r.data && r.data.tokens_revoked) document.querySelectorAll("#token-table tbody tr").forEach(tr => tr.remove());
    const warn = r.data && r.data.warning;
    const said = form.dataset.say && r.data && r.data[form.dataset.say];
    notice(form.querySelector(".notice"), warn ? "warn" : "ok", (said || form.dataset.done || t("Done.")) + (warn ? " " + warn : ""));
    if (form.dataset.reload) setTimeout(() => location.reload(), 800);
  }

  function submitUpload(form) {
    clearErrors(form);
    const file = form.querySelector("input[type=file]");
    if ((!file || !file.files.length) && form.dataset.credentials) {
      sendCredentials(form, file);
      return;
    }
    if (!file || !file.files.length) {
      fieldError(form, file ? file.name : "file", t("Choose a file first."));
      return;
    }
    const fd = new FormData();
    form.querySelectorAll("[name]").forEach(el => {
      if (el.type === "file") fd.append(el.name, el.files[0]);
      else fd.append(el.name, el.value);
    });
    const bar = form.querySelector(".progress div");
    const btn = form.querySelector("button");
    const down = form.querySelector("#fw-downgrade");
    let again = false;
    const send = () => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.action + (down && down.checked ? "?allow_downgrade=1" : ""));
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = e => { if (bar && e.lengthComputable) bar.style.width = (100 * e.loaded / e.total).toFixed(0) + "%"; };
    xhr.onload = async () => {
      if (!again && (xhr.status === 401 || xhr.status === 403)) {
        again = true; // the file and the passphrase are still in this page
        if (await loginLost(xhr.status)) { send(); return; }
      }
      if (btn) btn.disabled = false;
      let d = null;
      try { d = JSON.parse(xhr.responseText); } catch (e) { d = null; }
      if (xhr.status >= 300) {
        const msg = (d && d.error) || (xhr.status === 413 ? t("The file is too large for this form: check that it is the right file.") : t("The upload was refused: reload the page and try again."));
        const m = /^([a-z_]+): ([\s\S]*)$/.exec(msg);
        const fwInfo = form.querySelector("#fw-info");
        if (fwInfo && m && fwInfo.textContent === m[2]) notice(fwInfo, "", ""); // said once, at the file
        if (!(d && d.errors) && m && fieldError(form, m[1], m[2])) { if (bar) bar.style.width = "0"; return; }
        showErrors(form, d && d.errors, msg);
        if (bar) bar.style.width = "0";
        return;
      }
      if (d && d.needs_confirm) { showRestorePlan(form, d); return; }
      delete form.dataset.dirty;
      const rb = form.querySelector("#fw-reboot");
      if (rb) rb.hidden = false;
      const conf = form.querySelector("[name=confirm]");
      if (conf) conf.value = "";
      notice(form.querySelector(".notice"), "ok", (d && d.message) || form.dataset.done || t("Uploaded."));
      const check = document.getElementById("check");
      if (check && form.dataset.step) pollCheck(check, form.dataset.step);
      if (form.dataset.refresh) followPart(form.dataset.refresh);
    };
    xhr.onerror = () => { if (btn) btn.disabled = false; notice(form.querySelector(".notice"), "bad", t("The upload stopped: the connection to the box was lost. Check the connection, then upload again.")); };
    xhr.send(fd);
    };
    if (btn) btn.disabled = true;
    send();
  }

  // sendCredentials: no file chosen, but the passphrase or login the
  // tunnel asked for typed: they go to the stored profile, so a phone need
  // not pick the file again.
  async function sendCredentials(form, file) {
    const body = {};
    form.querySelectorAll("input[type=password][name], input[type=text][name]").forEach(el => { if (el.value !== "") body[el.name] = el.value; });
    if (!Object.keys(body).length) {
      fieldError(form, file ? file.name : "file", t("Choose a file first."));
      return;
    }
    const r = await api("POST", form.dataset.credentials, body);
    if (!r.ok) {
      const msg = (r.data && r.data.error) || t("That did not work: reload the page and try again.");
      const m = /^([a-z_]+): ([\s\S]*)$/.exec(msg);
      if (!(m && fieldError(form, m[1], m[2]))) notice(form.querySelector(".notice"), "bad", msg);
      return;
    }
    form.querySelectorAll("input[type=password]").forEach(el => { el.value = ""; });
    notice(form.querySelector(".notice"), "ok", r.data.message);
    const check = document.getElementById("check");
    if (check && form.dataset.step) pollCheck(check, form.dataset.step);
    if (form.dataset.refresh) followPart(form.dataset.refresh);
  }

  // showRestorePlan lists what a checked restore would change; the next
  // submit sends the confirmation and applies it.
  function showRestorePlan(form, d) {
    const out = form.querySelector("pre.out");
    const lines = (d.changes || []).map(c => c.path + ": " + JSON.stringify(c.old === undefined ? null : c.old) + " → " + JSON.stringify(c.new === undefined ? null : c.new));
    (d.warnings || []).forEach(w => lines.unshift(t("Note:") + " " + w));
    if (out) { out.hidden = false; out.textContent = lines.length ? lines.join("\n") : t("The backup changes nothing."); }
    form.querySelector("[name=confirm]").value = d.confirm;
    const btn = form.querySelector("button[type=submit]");
    const n = (d.changes || []).length;
    if (btn) btn.textContent = n === 1 ? t("Apply this change") : t("Apply these %d changes").replace("%d", n);
    notice(form.querySelector(".notice"), "warn", t("Checked. Nothing is changed yet: read the list, then apply."));
  }

  // submitDownload posts the form as JSON and saves the answer as a file.
  async function submitDownload(form) {
    clearErrors(form);
    const body = {};
    form.querySelectorAll("[name]").forEach(el => { body[el.name] = valueOf(el); });
    let r;
    try {
      r = await fetch(form.dataset.action, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    } catch (e) { notice(form.querySelector(".notice"), "bad", offline()); return; }
    if (!r.ok) {
      let d = null;
      try { d = await r.json(); } catch (e) { d = null; }
      const msg = (d && d.error) || t("That did not work: reload the page and try again.");
      const m = /^([a-z_]+): ([\s\S]*)$/.exec(msg);
      if (!(m && fieldError(form, m[1], m[2]))) notice(form.querySelector(".notice"), "bad", msg);
      return;
    }
    const cd = r.headers.get("Content-Disposition") || "";
    const name = (/filename="([^"]+)"/.exec(cd) || [])[1] || "edgebox-backup.json";
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement("a");
    a.href = url; a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    notice(form.querySelector(".notice"), "ok", (form.dataset.done || t("Backup saved as")) + " " + name + ".");
  }

  async function submitDiag(form) {
    clearErrors(form);
    const out = form.querySelector("pre.out");
    const body = { tool: form.querySelector("[name=tool]").value, target: form.querySelector("[name=target]").value };
    const btn = form.querySelector("button");
    btn.disabled = true;
    out.hidden = false;
    out.textContent = t("Running…");
    const r = await api("POST", "/api/v1/diag", body);
    btn.disabled = false;
    if (!r.ok) {
      out.hidden = true;
      const msg = (r.data && r.data.error) || t("That did not work: reload the page and try again.");
      if (!fieldError(form, "target", msg)) notice(form.querySelector(".notice"), "bad", msg);
      return;
    }
    out.textContent = (r.data.lines || []).join("\n");
  }

  // A form's request is out: on a slow link its answer can come a minute
  // after the tap. The button waits and the form says so, and a second
  // tap (or a double tap) sends nothing: before, each tap sent the
  // settings or the login again, and nothing showed meanwhile.
  function busy(form, run) {
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    const btn = form.querySelector('button[type="submit"], button:not([type])');
    if (btn) btn.disabled = true;
    const n = form.querySelector(".notice");
    // Shown only while nothing else is: a quick answer replaces it at once.
    const wait = setTimeout(() => { if (n && !n.textContent) notice(n, "info", t("Please wait for the box's answer: on a slow connection it can take a minute.")); }, 400);
    Promise.resolve().then(run).finally(() => {
      clearTimeout(wait);
      if (n && n.textContent === t("Please wait for the box's answer: on a slow connection it can take a minute.")) notice(n, "", "");
      if (btn) btn.disabled = false;
      delete form.dataset.busy;
    });
  }

  document.addEventListener("submit", ev => {
    const form = ev.target;
    const kind = form.dataset.form;
    if (!kind) return;
    ev.preventDefault();
    if (kind === "config") busy(form, () => submitConfig(form));
    else if (kind === "json") busy(form, () => submitJSON(form));
    else if (kind === "upload") submitUpload(form); // its button waits for the upload itself
    else if (kind === "diag") submitDiag(form);
    else if (kind === "download") busy(form, () => submitDownload(form));
  });

  document.addEventListener("click", async ev => {
    const b = ev.target.closest("[data-post]");
    if (!b) return;
    ev.preventDefault();
    if (b.dataset.confirm && !window.confirm(b.dataset.confirm)) return;
    b.disabled = true;
    const r = await api(b.dataset.method || "POST", b.dataset.post, b.dataset.method === "DELETE" ? undefined : {});
    b.disabled = false;
    const n = document.getElementById(b.dataset.notice || "page-notice");
    if (!r.ok) { notice(n, "bad", (r.data && r.data.error) || t("That did not work: reload the page and try again.")); reveal(n); return; }
    notice(n, "ok", b.dataset.done || t("Done."));
    reveal(n);
    if (b.dataset.reload) setTimeout(() => location.reload(), 1200);
    if (b.dataset.post === "/api/v1/system/reboot") watchReboot(n, b.dataset.done || "");
  });

  // reveal scrolls a notice into view when it is off the screen: on a
  // phone the page's notice is at the top, far above the Reboot button,
  // and a tap that answers there looked like a tap that did nothing.
  function reveal(el) {
    if (!el) return;
    const r = el.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) el.scrollIntoView({ block: "center" });
  }

  // After a reboot the page reloads; a restart logs everyone out, and a
  // login page that says nothing leaves the installer wondering why.
  (() => {
    let was = null;
    try { was = sessionStorage.getItem("rebooted"); sessionStorage.removeItem("rebooted"); } catch (e) { was = null; }
    if (!was) return;
    const login = document.querySelector('form[data-action="/api/v1/login"]');
    if (login) notice(login.querySelector(".notice"), "info", t("The box restarted, which logs everyone out: log in again."));
    else notice(document.getElementById("page-notice"), "ok", t("The box restarted and is back."));
  })();

  // watchReboot says what happens while the box restarts and reloads the
  // page once it is back: a page that only said "Rebooting…" left the
  // installer to guess when to reload. Back is an answer from a new boot
  // (its uptime shorter than the wait so far), not just any answer: the
  // box answers for a few seconds before it goes down.
  async function watchReboot(n, done) {
    const start = Date.now();
    const wait = (done ? done + " " : "") + t("This page reloads by itself when the box is back, usually within two minutes.");
    notice(n, "info", wait);
    while (Date.now() - start < 300000) {
      await new Promise(res => setTimeout(res, 2000));
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), 3000);
      try {
        const r = await fetch("/healthz", { credentials: "same-origin", cache: "no-store", signal: ctl.signal });
        const h = await r.json();
        if (r.ok && h.uptime_sec < (Date.now() - start) / 1000 + 5) {
          notice(n, "ok", t("The box is back: reloading the page…"));
          try { sessionStorage.setItem("rebooted", "1"); } catch (e) { /* private mode */ }
          setTimeout(() => location.reload(), 1000);
          return;
        }
      } catch (e) { /* down for now */ }
      clearTimeout(timer);
      const sec = Math.round((Date.now() - start) / 1000);
      notice(n, "info", wait + " " + t("Waiting for %d s.").replace("%d", sec));
    }
    notice(n, "bad", t("The box has not come back after 5 minutes: check its power and cables; if it stays so, someone on site must look at it."));
  }

  document.addEventListener("change", ev => {
    const s = ev.target.closest("select[data-go]");
    if (s) location.href = s.dataset.go + encodeURIComponent(s.value);
  });

  // Show/hide toggles on every password field: typing a PIN on a phone
  // keyboard blind is how wrong PINs happen.
  document.querySelectorAll('input[type="password"]').forEach(inp => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary toggle-pw";
    b.textContent = t("Show");
    b.setAttribute("aria-controls", inp.id);
    b.addEventListener("click", () => {
      const show = inp.type === "password";
      inp.type = show ? "text" : "password";
      b.textContent = show ? t("Hide") : t("Show");
    });
    const wrap = document.createElement("div");
    wrap.className = "pw-wrap";
    inp.parentNode.insertBefore(wrap, inp);
    wrap.appendChild(inp);
    wrap.appendChild(b);
  });

  // Unsaved input is not dropped silently: the first tap on a link away
  // from a changed form warns, a second one leaves.
  document.querySelectorAll("form[data-step]").forEach(f => {
    const mark = () => { f.dataset.dirty = "1"; };
    f.addEventListener("input", mark);
    f.addEventListener("change", mark);
  });
  let warnedLeave = false;
  document.addEventListener("click", ev => {
    const a = ev.target.closest("a[href]");
    if (!a || warnedLeave || !document.querySelector("form[data-dirty]")) return;
    // Another language is this page again: its draft brings back what was
    // typed, unless that includes a secret, which no draft keeps.
    const typedSecret = [...document.querySelectorAll("form[data-dirty] [data-secret], form[data-dirty] input[type=password]")].some(el => el.value !== "");
    if (a.getAttribute("href").startsWith("/lang/") && !typedSecret) return;
    ev.preventDefault();
    warnedLeave = true;
    notice(document.getElementById("page-notice"), "warn", t("This page has changes that are not saved: tap “Save and apply” first, or tap the link again to leave them."));
    window.scrollTo(0, 0);
  });

  // Quick tests run a diagnostic with its target filled in.
  document.addEventListener("click", ev => {
    const b = ev.target.closest("[data-diag]");
    const form = document.getElementById("diag-form");
    if (!b || !form) return;
    form.querySelector("[name=tool]").value = b.dataset.diag;
    const src = b.dataset.targetFrom && document.getElementById(b.dataset.targetFrom);
    form.querySelector("[name=target]").value = src ? src.value : (b.dataset.target || "");
    submitDiag(form);
    form.scrollIntoView();
  });

  // Suggestions fill their field; saving stays the installer's choice.
  document.addEventListener("click", ev => {
    const b = ev.target.closest("[data-fill]");
    if (!b) return;
    const f = document.querySelector('[data-path="' + CSS.escape(b.dataset.fill) + '"]');
    if (!f) return;
    f.value = b.dataset.value;
    const form = f.closest("form");
    if (form) form.dataset.dirty = "1";
    f.focus();
  });

  // "Use my phone's time": the phone's clock and time zone for the box.
  const pt = document.getElementById("phone-time");
  if (pt) pt.addEventListener("click", async () => {
    const form = pt.closest("form");
    clearErrors(form);
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    const f = form.querySelector('[data-path="system.timezone"]');
    if (f && tz) { f.value = tz; form.dataset.dirty = "1"; }
    const r = await api("POST", "/api/v1/system/time", { unix_ms: Date.now() });
    if (!r.ok) { notice(form.querySelector(".notice"), "bad", (r.data && r.data.error) || t("The clock was not set: try again.")); return; }
    notice(form.querySelector(".notice"), "ok", r.data.message + (tz ? " " + t("Time zone %s filled in: tap “Save and apply” to keep it.").replace("%s", tz) : ""));
  });

  // A new file chosen: the answer about the last one goes.
  document.addEventListener("change", ev => {
    const f = ev.target;
    if (f.type === "file" && f.form && f.form.dataset.form === "upload" && f.id !== "fw") clearErrors(f.form);
  });

  // Firmware: the chosen bundle's version against the installed one,
  // from its header, before anything is installed.
  const fw = document.getElementById("fw");
  if (fw) fw.addEventListener("change", async () => {
    const info = document.getElementById("fw-info");
    const row = document.getElementById("fw-downgrade-row");
    row.hidden = true;
    document.getElementById("fw-downgrade").checked = false;
    document.getElementById("fw-reboot").hidden = true;
    clearErrors(fw.form); // the last file's answer is not this one's
    notice(info, "", "");
    if (!fw.files.length) return;
    const fd = new FormData();
    fd.append("file", fw.files[0].slice(0, 1 << 20), "head");
    fd.append("size", String(fw.files[0].size));
    let r;
    try {
      r = await fetch("/api/v1/firmware/inspect", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf }, body: fd });
    } catch (e) { notice(info, "bad", offline()); return; }
    let d = null;
    try { d = await r.json(); } catch (e) { d = null; }
    if (!r.ok) { notice(info, "bad", ((d && d.error) || t("The file cannot be read: choose the .bundle file of the new firmware.")).replace(/^file: /, "")); return; }
    const bad = !d.board_ok;
    notice(info, bad ? "bad" : d.compare === "newer" ? "ok" : "warn", d.message);
    if (d.compare === "older") row.hidden = false;
  });

  // renderPart replaces the element sel with the one the page renders now,
  // so a part shows the box's state without a reload (and without losing
  // what the rest of the page holds, e.g. an upload's notice).
  async function renderPart(sel) {
    try {
      const r = await fetch(location.href, { credentials: "same-origin" });
      if (!r.ok) return;
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const m = doc.querySelector(sel);
      const cur = document.querySelector(sel);
      if (m && cur) cur.replaceWith(m);
    } catch (e) { /* offline for a moment */ }
  }

  // followPart re-renders #id at once and then every 2 s for a minute:
  // after a VPN profile upload the tunnel goes from connecting to
  // connected (or to openvpn's reason why not) while the installer looks.
  let followRun = 0;
  async function followPart(id) {
    const run = ++followRun;
    for (let i = 0; i < 30 && run === followRun; i++) {
      await renderPart("#" + CSS.escape(id));
      await new Promise(res => setTimeout(res, 2000));
    }
  }

  // Pages marked data-refresh re-render their main part in place.
  const sec = Number(document.body.dataset.refresh || 0);
  if (sec > 0) {
    setInterval(() => {
      if (!document.querySelector("main :focus")) renderPart("main [data-live]");
    }, sec * 1000);
  }
})();
