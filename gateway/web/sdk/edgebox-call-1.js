// edgebox-call-1.js (version 1.3.0): place a call to a contact-center
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
// A socket lost during a call (the phone left Wi-Fi for the mobile network)
// is taken over by a new one within 20 s ("reconnecting", then
// "reconnected"), and ICE restarts on the new network ("ice_restart"); the
// call goes on.
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
        this._connect({ type: "auth", token: this.token, resumable: true }, resolve, reject);
      });
    }

    // _connect opens a signaling socket whose first message is first (auth,
    // or resume after a network change).
    _connect(first, resolve, reject) {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => ws.send(JSON.stringify(first));
      ws.onerror = () => reject(new Error("signaling connection failed"));
      ws.onclose = (e) => {
        if (ws !== this.ws) return; // a socket replaced by a resume
        // Lost without a word from the box (code 1006) during a call: the
        // network changed; take the call over on a new socket.
        if (e.code === 1006 && this._resume && this.state !== "ended" && this.state !== "new") {
          if (!this._reconnectUntil) { this._reconnect(); return; }
          this.ws = null;
          setTimeout(() => this._attempt(), 1000); // a failed attempt: the next one
          return;
        }
        this._closed(e.code, e.reason);
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

    _closed(code, reason) {
      if (this.state !== "ended") {
        this.state = "ended";
        this._emit("event", { type: "event", event: "ended", close_code: code, reason: reason || "signaling closed" });
      }
      this._cleanup();
    }

    // _reconnect tries for 20 s (the box's grace) to resume the call on a
    // new socket, then restarts ICE over the new network.
    _reconnect() {
      if (this._reconnectUntil) return;
      this._reconnectUntil = Date.now() + 20000;
      this._emit("reconnecting", { call_id: this.callId });
      this._attempt();
    }

    _attempt() {
      if (this.state === "ended") return;
      if (Date.now() > this._reconnectUntil) {
        this._reconnectUntil = 0;
        this._closed(1006, "network lost");
        return;
      }
      this._connect({ type: "resume", call_id: this.callId, resume: this._resume }, () => {}, () => {});
      const ws = this.ws;
      setTimeout(() => {
        if (this.ws === ws && ws.readyState !== WebSocket.OPEN) {
          this.ws = null;
          try { ws.close(); } catch (e) {}
          this._attempt();
        }
      }, 2000);
    }

    // _heartbeat pings the box every 3 s: a socket that got no pong for 8 s
    // died with the network (a phone leaving Wi-Fi keeps a dead TCP
    // connection open for minutes), so the call moves to a new one.
    _heartbeat() {
      this._pong = Date.now();
      clearInterval(this._beat);
      this._beat = setInterval(() => {
        if (this.state === "ended") { clearInterval(this._beat); return; }
        if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
        if (Date.now() - this._pong > 8000 && this._resume) {
          const dead = this.ws;
          this.ws = null;
          try { dead.close(); } catch (e) {}
          this._reconnect();
          return;
        }
        this._send({ type: "ping" });
      }, 3000);
    }

    // restartIce makes a new offer with new ICE credentials (after a
    // network change); the box answers and media moves to the new path.
    async restartIce() {
      if (!this.pc || !this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      const offer = await this.pc.createOffer({ iceRestart: true });
      await this.pc.setLocalDescription(offer);
      this._send({ type: "offer", sdp: this.pc.localDescription.sdp });
      this._emit("ice_restart", { call_id: this.callId });
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
          this._resume = m.resume || null;
          if (this._resume) this._heartbeat(); // a box that resumes also answers ping
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
        case "pong":
          this._pong = Date.now();
          break;
        case "resumed":
          this._reconnectUntil = 0;
          this._heartbeat();
          this._emit("reconnected", { call_id: m.call_id });
          await this.restartIce();
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
      // The path broke (the network changed under a live socket, or after
      // a resume): new ICE credentials, new candidates.
      pc.oniceconnectionstatechange = () => {
        if (pc.iceConnectionState === "failed") this.restartIce();
        if (pc.iceConnectionState === "disconnected") {
          setTimeout(() => { if (this.pc === pc && pc.iceConnectionState === "disconnected") this.restartIce(); }, 2000);
        }
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
      clearInterval(this._beat);
      if (this.pc) { this.pc.close(); this.pc = null; }
      if (this.stream) { for (const t of this.stream.getTracks()) t.stop(); }
    }
  }

  EdgeboxCall.version = "1.3.0"; // gateway.SDKVersion
  global.EdgeboxCall = EdgeboxCall;
})(typeof window !== "undefined" ? window : this);
