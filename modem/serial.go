package modem

import (
	"fmt"
	"io"

	"go.bug.st/serial"
)

// OpenSerial opens an AT port at baud 8N1 (USB serial ignores the speed).
func OpenSerial(path string, baud int) (io.ReadWriteCloser, error) {
	if baud <= 0 {
		baud = 115200
	}
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return p, nil
}
