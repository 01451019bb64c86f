// Wrong uses tsc must refuse (TestSDKTypes checks each line is an error):
// if these compiled, the types would check nothing.
const c = new EdgeboxCall({ url: "wss://x/v1/signal" }); // token missing
c.addEventListener("event", (e) => e.detail.digits); // an event has no digits
c.dtmf(1); // digits are a string
const n: number = c.callId; // string | null
c.addEventListener("error", (e) => { const x: "nope" = e.detail.code; console.log(x); });
c.addEventListener("incoming", (e) => e.detail.answer("mic")); // answer takes a MediaStream
