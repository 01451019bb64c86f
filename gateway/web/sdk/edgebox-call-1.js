// edgebox-call-1.js (version 1.2.0): place a call to a contact-center
// agent through an edgebox gateway. Protocol and events:
// docs/gateway-protocol.md ("JavaScript SDK"). Types: edgebox-call-1.d.ts.
// /sdk/edgebox-call.js is an alias of the newest major version.
//
//   const call = new EdgeboxCall({ url: res.websocket_url, token: res.token,
//                                  iceServers: res.ice_servers });
//   call.addEventListener("event", e => console.log(e.detail.event));
//   await call.start();            // asks for the microphone
//   call.dtmf("1");  call.hangup();
//
// Events (CustomEvent, data in .detail): "event" (trying, ringing,
// early_media, answered, held, resumed, transferred, ended), "dtmf" (digits
// from the agent side), "queue" ({position, wait_sec}: the customer's
// place in the queue, 0 = unknown), "error" (the box refused something), "track" (the
// agent's audio MediaStream, already playing if an <audio> was given).
// When the socket closes without an "ended" from the box, the SDK emits
// "ended" itself with the WebSocket close code (close_code) and reason.
//
// Callbacks (the PBX calls a waiting customer): with a token the portal
// asked for with "receive": true,
//   await call.wait();             // the box says "waiting"
//   call.addEventListener("incoming", e => e.detail.answer());  // or .decline()
(function (global) {
  "use strict";

  class EdgeboxCall extends EventTarget {
    constructor(opts) {
      super();
      if (!opts || !opts.url || !opts.token) throw new Error("EdgeboxCall needs url and token");
      this.url = opts.url;
      this.token = opts.token;
      this.iceServers = opts.iceServers || [];
      this.audioElement = opts.audio || null;
      this.state = "new";
      this.callId = null;
      this.pc = null;
      this.ws = null;
      this.sender = null;
      this.stream = null;
      this.queue = null; // the last "queue" update: {position, wait_sec}
      this._pending = [];
      this.incoming = null; // the PBX's call to a waiting page: {from, display_name, call_id, answer, decline}
    }

    _emit(type, detail) {
      this.dispatchEvent(new CustomEvent(type, { detail: detail }));
    }

    _send(msg) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    }

    // start connects, authenticates and offers the microphone (or stream).
    async start(stream) {
      if (!stream) stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      this.stream = stream;
      await new Promise((resolve, reject) => {
        this._connect({ type: "auth", token: this.token }, resolve, reject);
      });
    }

    // _connect opens a signaling socket whose first message is first.
    _connect(first, resolve, reject) {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => ws.send(JSON.stringify(first));
      ws.onerror = () => reject(new Error("signaling connection failed"));
      ws.onclose = (e) => {
        if (this.state !== "ended") {
          this.state = "ended";
          this._emit("event", { type: "event", event: "ended", close_code: e.code, reason: e.reason || "signaling closed" });
        }
        this._cleanup();
      };
      ws.onmessage = async (ev) => {
        let m;
        try { m = JSON.parse(ev.data); } catch (e) { return; }
        try {
          await this._onMessage(m, resolve, reject);
        } catch (e) {
          this._emit("error", { code: "client", error: String(e) });
        }
      };
    }

    // wait connects with a callback token and resolves once the box says
    // "waiting"; an "incoming" event follows when the PBX calls (the token's
    // lifetime bounds the wait: then "ended").
    async wait() {
      await new Promise((resolve, reject) => {
        this._connect({ type: "auth", token: this.token }, resolve, reject);
      });
    }

    // answer takes the incoming call: it offers the microphone (or stream)
    // and the box answers the PBX.
    async answer(stream) {
      if (this.state !== "incoming") throw new Error("no incoming call to answer");
      if (!stream) stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      this.stream = stream;
      this.state = "authorized";
      await this._offer(this._ice && this._ice.length ? this._ice : this.iceServers);
    }

    // decline refuses the incoming call (the PBX gets 603), or stops waiting.
    decline() {
      this._send({ type: "hangup" });
    }

    async _onMessage(m, resolve, reject) {
      switch (m.type) {
        case "authorized":
          this.callId = m.call_id;
          this.state = "authorized";
          await this._offer(m.ice_servers && m.ice_servers.length ? m.ice_servers : this.iceServers);
          resolve();
          break;
        case "offer":
          // the PBX changed the codec: the box renegotiates
          await this.pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
          const ans = await this.pc.createAnswer();
          await this.pc.setLocalDescription(ans);
          this._send({ type: "answer", sdp: this.pc.localDescription.sdp });
          break;
        case "answer":
          await this.pc.setRemoteDescription({ type: "answer", sdp: m.sdp });
          for (const c of this._pending) await this.pc.addIceCandidate(c);
          this._pending = [];
          break;
        case "candidate":
          if (!m.candidate || !m.candidate.candidate) break;
          if (this.pc && this.pc.remoteDescription) await this.pc.addIceCandidate(m.candidate);
          else this._pending.push(m.candidate);
          break;
        case "event":
          this.state = m.event;
          if (m.event === "waiting") resolve();
          if (m.event === "incoming") {
            this.callId = m.call_id;
            this._ice = m.ice_servers || null;
            this.incoming = { from: m.from || "", display_name: m.display_name || "", call_id: m.call_id,
                              answer: (stream) => this.answer(stream), decline: () => this.decline() };
          }
          this._emit("event", m);
          if (m.event === "incoming") this._emit("incoming", this.incoming);
          if (m.event === "ended") this.ws.close(1000, "ended");
          break;
        case "dtmf":
          this._emit("dtmf", m);
          break;
        case "queue":
          this.queue = { position: m.position || 0, wait_sec: m.wait_sec || 0 };
          this._emit("queue", this.queue);
          break;
        case "error":
          this._emit("error", m);
          if (this.state === "new" || m.code === "bad_token") reject(new Error(m.code + ": " + m.error));
          break;
      }
    }

    async _offer(iceServers) {
      const pc = new RTCPeerConnection({ iceServers: iceServers, bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
      this.pc = pc;
      for (const t of this.stream.getAudioTracks()) this.sender = pc.addTrack(t, this.stream);
      pc.onicecandidate = (e) => {
        this._send({ type: "candidate", candidate: e.candidate ? e.candidate.toJSON() : { candidate: "" } });
      };
      pc.ontrack = (e) => {
        const s = e.streams[0] || new MediaStream([e.track]);
        if (this.audioElement) {
          this.audioElement.srcObject = s;
          const p = this.audioElement.play();
          if (p && p.catch) p.catch(() => {});
        }
        this._emit("track", s);
      };
      const offer = await pc.createOffer({ offerToReceiveAudio: true });
      await pc.setLocalDescription(offer);
      this._send({ type: "offer", sdp: pc.localDescription.sdp });
    }

    // dtmf sends digits in-band (RFC 4733 from the browser) when it can,
    // else asks the box to send them.
    dtmf(digits) {
      const d = this.sender && this.sender.dtmf;
      if (d && d.canInsertDTMF) d.insertDTMF(digits, 100, 70);
      else this._send({ type: "dtmf", digits: digits });
    }

    hangup() {
      this._send({ type: "hangup" });
    }

    _cleanup() {
      if (this.pc) { this.pc.close(); this.pc = null; }
      if (this.stream) { for (const t of this.stream.getTracks()) t.stop(); }
    }
  }

  EdgeboxCall.version = "1.2.0"; // gateway.SDKVersion
  global.EdgeboxCall = EdgeboxCall;
})(typeof window !== "undefined" ? window : this);
