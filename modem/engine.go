package modem

// Engine owns the serial port in one goroutine.
type Engine struct{}
