// A page's use of the SDK: TestSDKTypes compiles it with tsc --strict
// against web/sdk/edgebox-call-1.d.ts.
async function callSupport(res: { websocket_url: string; token: string; ice_servers: EdgeboxICEServer[] }, audio: HTMLAudioElement): Promise<string | null> {
  const call = new EdgeboxCall({ url: res.websocket_url, token: res.token, iceServers: res.ice_servers, audio });
  const v: string = EdgeboxCall.version;
  call.addEventListener("event", (e) => {
    const name: EdgeboxCallEventName = e.detail.event;
    if (name === "ended" && e.detail.close_code === 1013) console.log("busy: retry", e.detail.reason);
    if (e.detail.sip_code !== undefined) console.log(e.detail.sip_code + 1);
  });
  call.addEventListener("error", (e) => {
    const code: EdgeboxErrorCode = e.detail.code;
    if (code === "auth_timeout" || code === "busy") console.log(e.detail.error.toUpperCase());
  });
  call.addEventListener("dtmf", (e) => console.log(e.detail.digits.length));
  call.addEventListener("queue", (e) => console.log(e.detail.position + 1, e.detail.wait_sec / 60, call.queue?.position));
  call.addEventListener("track", (e) => console.log(e.detail.getAudioTracks().length));
  await call.start();
  await call.start(new MediaStream());
  call.dtmf("12#");
  call.hangup();
  const pc: RTCPeerConnection | null = call.pc;
  console.log(v, pc, call.state, window.EdgeboxCall.version);
  return call.callId;
}
console.log(callSupport);

// A page waiting for the PBX's call (a callback token).
async function waitForAgent(res: { websocket_url: string; token: string }): Promise<void> {
  const call = new EdgeboxCall({ url: res.websocket_url, token: res.token });
  call.addEventListener("incoming", async (e) => {
    const who: string = e.detail.display_name || e.detail.from;
    if (who.startsWith("sip:spam")) e.detail.decline();
    else await e.detail.answer();
  });
  call.addEventListener("event", (e) => {
    if (e.detail.event === "waiting") console.log(e.detail.expires_at?.length);
  });
  await call.wait();
  if (call.incoming) await call.answer(new MediaStream());
  call.decline();
}
console.log(waitForAgent);
