package modemsim

// The card's PCM voice port (issue 19): 8000 Hz, signed 16-bit little
// endian, mono, one 320-byte frame per 20 ms in each direction, clocked
// in real time while a call's voice path is open. The far party plays a
// tone; what the box sends back is analysed with a Goertzel filter at the
// detect frequency, so a test can tell "the tone came back" (echo),
// "another tone came back" or "silence".

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"time"
)

// PCM format of the voice port.
const (
	AudioRate       = 8000
	AudioFrame      = 20 * time.Millisecond
	AudioFrameBytes = 320 // 160 samples of 2 bytes
	audioSamples    = AudioFrameBytes / 2
)

// A received frame counts as the detect tone when that frequency holds at
// least this share of its energy, and as silence below silenceDB.
const (
	toneShare = 0.5
	silenceDB = -50.0
)

// AudioStats describe the audio of the current (or last) call.
type AudioStats struct {
	Attached bool    `json:"attached"` // a peer is on the audio port
	InCall   bool    `json:"in_call"`  // the voice path is open (call up, vendor switches set)
	ToneHz   float64 `json:"tone_hz"`  // what the far party plays
	DetectHz float64 `json:"detect_hz"`
	// FramesSent are the 20 ms frames written to the box, FramesReceived
	// those read from it while the path was open (this call).
	FramesSent     int `json:"frames_sent"`
	FramesReceived int `json:"frames_received"`
	// ToneFrames carry DetectHz (share >= 0.5), SilentFrames are below
	// -50 dBFS.
	ToneFrames   int `json:"tone_frames"`
	SilentFrames int `json:"silent_frames"`
	// LevelDB is the power at DetectHz of the last received frame in
	// dBFS (a full-scale sine is 0); MaxLevelDB the highest this call.
	LevelDB    float64 `json:"level_db"`
	MaxLevelDB float64 `json:"max_level_db"`
	// Late counts clock ticks that came over 100 ms late (a stalled peer
	// or an overloaded machine); the clock then restarts from now.
	Late int `json:"late"`
	// Dropped are frames the peer did not read within 100 ms.
	Dropped int `json:"dropped"`
}

type audioState struct {
	mu      sync.Mutex
	stats   AudioStats
	phase   float64
	partial []byte // a received frame not complete yet
}

func newAudioState() *audioState {
	return &audioState{stats: AudioStats{ToneHz: 1000, DetectHz: 1000, LevelDB: -120, MaxLevelDB: -120}}
}

func (a *audioState) callStarted() {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.stats
	a.stats = AudioStats{Attached: st.Attached, ToneHz: st.ToneHz, DetectHz: st.DetectHz, LevelDB: -120, MaxLevelDB: -120}
	a.phase = 0
	a.partial = nil
}

// SetAudio sets the far party's tone and the analysed frequency (0 keeps
// a value).
func (s *Sim) SetAudio(toneHz, detectHz float64) {
	s.mu.Lock()
	a := s.v().audio
	s.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if toneHz > 0 {
		a.stats.ToneHz = toneHz
	}
	if detectHz > 0 {
		a.stats.DetectHz = detectHz
	}
}

// AudioStats returns the audio statistics of the current or last call.
func (s *Sim) AudioStats() AudioStats {
	s.mu.Lock()
	a := s.v().audio
	open := s.voicePathOpenLocked()
	s.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.stats
	st.InCall = open
	return st
}

func (s *Sim) pathOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.voicePathOpenLocked()
}

// ServeAudio serves the PCM voice port on ln (cmd/modemsim --audio PATH:
// a unix socket). One peer at a time, as a tty has one reader: a new
// connection replaces the old one.
func (s *Sim) ServeAudio(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	s.mu.Lock()
	a := s.v().audio
	s.mu.Unlock()
	var (
		wg  sync.WaitGroup
		cur net.Conn
	)
	defer func() {
		if cur != nil {
			cur.Close()
		}
		wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return ctx.Err()
			}
			return err
		}
		if cur != nil {
			cur.Close()
		}
		cur = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveAudioConn(ctx, c, a)
		}()
	}
}

func (s *Sim) serveAudioConn(ctx context.Context, c net.Conn, a *audioState) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.Close()
	a.mu.Lock()
	a.stats.Attached = true
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.stats.Attached = false
		a.mu.Unlock()
	}()
	go func() {
		s.readAudio(c, a)
		cancel()
	}()
	s.clockAudio(ctx, c, a)
}

// clockAudio writes one frame of the far party's tone every 20 ms while
// the voice path is open; nothing otherwise (the card is silent on the
// port between calls).
func (s *Sim) clockAudio(ctx context.Context, w net.Conn, a *audioState) {
	next := time.Now()
	frame := make([]byte, AudioFrameBytes)
	for {
		next = next.Add(AudioFrame)
		d := time.Until(next)
		if d < -100*time.Millisecond {
			a.mu.Lock()
			a.stats.Late++
			a.mu.Unlock()
			next = time.Now()
			d = 0
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !s.pathOpen() {
			continue
		}
		a.mu.Lock()
		a.phase = fillTone(frame, a.stats.ToneHz, a.phase)
		a.mu.Unlock()
		w.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := w.Write(frame)
		a.mu.Lock()
		if err != nil {
			a.stats.Dropped++
		} else {
			a.stats.FramesSent++
		}
		a.mu.Unlock()
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			return
		}
	}
}

// fillTone writes a sine of hz at half full scale, continuing at phase.
func fillTone(frame []byte, hz, phase float64) float64 {
	step := 2 * math.Pi * hz / AudioRate
	for i := 0; i < audioSamples; i++ {
		v := int16(16384 * math.Sin(phase))
		binary.LittleEndian.PutUint16(frame[2*i:], uint16(v))
		phase += step
	}
	return math.Mod(phase, 2*math.Pi)
}

// readAudio analyses every complete frame the box sends while the voice
// path is open; frames outside a call are read and dropped.
func (s *Sim) readAudio(r io.Reader, a *audioState) {
	buf := make([]byte, 4096)
	samples := make([]int16, audioSamples)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			open := s.pathOpen()
			a.mu.Lock()
			if !open {
				a.partial = a.partial[:0]
			} else {
				a.partial = append(a.partial, buf[:n]...)
				for len(a.partial) >= AudioFrameBytes {
					for i := range samples {
						samples[i] = int16(binary.LittleEndian.Uint16(a.partial[2*i:]))
					}
					a.partial = a.partial[AudioFrameBytes:]
					a.analyse(samples)
				}
			}
			a.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// analyse counts one received frame (a.mu held).
func (a *audioState) analyse(x []int16) {
	st := &a.stats
	st.FramesReceived++
	share, levelDB, rmsDB := ToneLevel(x, st.DetectHz)
	st.LevelDB = levelDB
	if levelDB > st.MaxLevelDB {
		st.MaxLevelDB = levelDB
	}
	switch {
	case rmsDB < silenceDB:
		st.SilentFrames++
	case share >= toneShare:
		st.ToneFrames++
	}
}

// ToneLevel runs a Goertzel filter at hz over 8 kHz samples x. share is
// the part of the frame's energy at hz (1 for a pure tone there, about 0
// for silence or another tone), levelDB the tone's level in dBFS (a
// full-scale sine is 0 dBFS), rmsDB the frame's RMS level relative to a
// full-scale sine.
func ToneLevel(x []int16, hz float64) (share, levelDB, rmsDB float64) {
	n := float64(len(x))
	if n == 0 {
		return 0, -120, -120
	}
	coeff := 2 * math.Cos(2*math.Pi*hz/AudioRate)
	var s1, s2, energy float64
	for _, v := range x {
		f := float64(v)
		s0 := f + coeff*s1 - s2
		s2, s1 = s1, s0
		energy += f * f
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	db := func(p float64) float64 {
		if p <= 0 {
			return -120
		}
		return math.Max(-120, 10*math.Log10(p))
	}
	// A sine of amplitude A gives power (n*A/2)^2 and energy n*A^2/2.
	const fs = 32768.0
	amp2 := power / (n * n / 4)
	levelDB = db(amp2 / (fs * fs))
	rmsDB = db(2 * energy / n / (fs * fs))
	if energy > 0 {
		share = power / (n / 2 * energy)
	}
	return share, levelDB, rmsDB
}
