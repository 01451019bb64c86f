"use strict";
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.get("token")) $("token").value = params.get("token");
// The page talks to this box only: a ?ws= naming another host would hand
// the call token to it.
const ownWS = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/signal";
function signalURL() {
  const asked = params.get("ws");
  if (!asked) return ownWS;
  try {
    const u = new URL(asked, location.href);
    if ((u.protocol === "ws:" || u.protocol === "wss:") && u.host === location.host) return u.href;
  } catch (e) { /* not a URL: ignored below */ }
  log("ignored ?ws=" + asked + ": this page connects to this box only");
  return ownWS;
}
let iceServers = [];
let call = null;
// a callback token (?receive=1, or "Call me back" when getting one): the
// page waits for the PBX's call instead of placing one
let receiving = params.get("receive") === "1";
// window.demo is read by the browser test.
window.demo = { state: "idle", events: [], errors: [], dtmf: [], queue: null, incoming: null };

function log(s) { $("log").textContent += s + "\n"; }
function setState(s) { window.demo.state = s; $("state").textContent = s; }

for (const d of "123456789*0#") {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = d; b.id = "key-" + (d === "*" ? "star" : d === "#" ? "hash" : d);
  b.onclick = () => { if (call) { call.dtmf(d); log("sent DTMF " + d); } };
  $("keypad").appendChild(b);
}

$("authorize").onclick = async () => {
  const res = await fetch("/v1/calls", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-API-Key": $("apikey").value },
    body: JSON.stringify($("receive").checked
      ? { from: $("from").value, receive: true, context: { page: location.pathname } }
      : { from: $("from").value, destination: $("dest").value, context: { page: location.pathname } }),
  });
  const body = await res.json();
  if (!res.ok) { log("portal refused: " + body.error); return; }
  $("token").value = body.token;
  iceServers = body.ice_servers || [];
  log("token valid until " + body.expires_at);
  receiving = $("receive").checked;
  if (body.callback_uri) log("the PBX calls this page at " + body.callback_uri);
};

$("call").onclick = async () => {
  if (!$("token").value) { log("a token is needed first"); return; }
  $("call").disabled = true;
  setState("connecting");
  call = new EdgeboxCall({ url: signalURL(), token: $("token").value, iceServers: iceServers, audio: $("remote") });
  call.addEventListener("event", (e) => {
    const m = e.detail;
    window.demo.events.push(m.event);
    setState(m.event);
    log("event " + m.event + (m.sip_code ? " " + m.sip_code : "") + (m.reason ? " " + m.reason : ""));
    if (m.event === "ended") $("queue").hidden = true; // a queue answers before the agent: keep it until the end
    if (m.event === "ended") $("incoming").hidden = true;
    if (m.event === "ended") { $("hangup").disabled = true; $("call").disabled = false; $("token").value = ""; }
  });
  call.addEventListener("error", (e) => { window.demo.errors.push(e.detail.code); log("error " + e.detail.code + ": " + e.detail.error); });
  call.addEventListener("queue", (e) => {
    window.demo.queue = e.detail;
    $("queue").textContent = queueText(e.detail);
    $("queue").hidden = false;
  });
  call.addEventListener("incoming", (e) => {
    window.demo.incoming = { from: e.detail.from, display_name: e.detail.display_name };
    $("caller").textContent = e.detail.display_name || e.detail.from;
    $("incoming").hidden = false;
  });
  call.addEventListener("dtmf", (e) => { window.demo.dtmf.push(e.detail.digits); log("agent sent DTMF " + e.detail.digits); });
  try {
    if (receiving) await call.wait(); // "incoming" follows when the PBX calls
    else await call.start();
    $("hangup").disabled = false;
  } catch (err) {
    setState("failed");
    log(String(err));
    $("call").disabled = false;
  }
};
// queueText says a queue update in words: 0 means unknown.
function queueText(q) {
  const parts = [];
  if (q.position === 1) parts.push("You are next");
  else if (q.position > 1) parts.push("You are number " + q.position + " in the queue");
  else parts.push("You are in the queue");
  if (q.wait_sec > 0) {
    const min = Math.ceil(q.wait_sec / 60);
    parts.push("about " + min + (min === 1 ? " minute" : " minutes"));
  }
  return parts.join(", ") + ".";
}
$("hangup").onclick = () => { if (call) call.hangup(); };
$("answer").onclick = () => {
  $("incoming").hidden = true;
  if (call) call.answer().catch((err) => log("answer: " + err));
};
$("decline").onclick = () => { $("incoming").hidden = true; if (call) call.decline(); };

// stats for the browser test: packets the browser sent and received
window.demo.stats = async () => {
  if (!call || !call.pc) return { sent: 0, received: 0 };
  const r = await call.pc.getStats();
  let sent = 0, received = 0, cipher = "";
  r.forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "audio") sent += s.packetsSent || 0;
    if (s.type === "inbound-rtp" && s.kind === "audio") received += s.packetsReceived || 0;
    if (s.type === "transport" && s.srtpCipher) cipher = s.srtpCipher;
  });
  return { sent: sent, received: received, cipher: cipher };
};
