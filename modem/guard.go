package modem

import (
	"context"
	"runtime"
	"strings"
	"time"
)

// answerGuard is the default EngineConfig.AnswerGuard. A card that repeats
// an answer (firmware replaying its output after a UART overrun, seen as
// "OK" twice) sends the copy right behind the first: over USB within a
// millisecond or two. Without a gap, the next command is written before
// the copy is read and the copy is taken for its answer; every later
// answer is then one command late. Waiting this long after the final
// answer lets the copy arrive while no command is out, where it is
// dropped (a final marks the port out of step: settle). URCs do not
// extend the gap: a card reporting signal every few milliseconds must not
// hold commands back (an earlier quiet gap that any line reset did).
// 20 ms costs little (netctl's init is 15 to 50 commands, its polls are
// seconds apart) and is ten times what a card needs; once a card was seen
// repeating, the gap is repeatGuard for the rest of the session, since a
// box under load may read late what the card sent on time.
const (
	answerGuard = 20 * time.Millisecond
	repeatGuard = 100 * time.Millisecond
)

func (e *Engine) guardGap() time.Duration {
	if e.repeats {
		return max(e.cfg.AnswerGuard, repeatGuard)
	}
	return e.cfg.AnswerGuard
}

// inGuard says whether the last final answer was read less than
// AnswerGuard ago: a line now that is no URC is a copy of that answer.
func (e *Engine) inGuard() bool {
	return !e.lastFinal.IsZero() && time.Since(e.lastFinal) < e.guardGap()
}

// guard waits until AnswerGuard has passed since the last final answer,
// handling what arrives meanwhile as on an idle port: URCs are published,
// a copied answer marks the port out of step (exec then settles).
func (e *Engine) guard(ctx context.Context) {
	if !e.inGuard() {
		return
	}
	t := time.NewTimer(time.Until(e.lastFinal.Add(e.guardGap())))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-e.lines:
			e.idleEvent(ev)
		case <-t.C:
			// The timer may fire before a reader that was waiting for
			// a CPU has passed on what it read: let it run, then take
			// what it queued.
			runtime.Gosched()
			for {
				select {
				case ev := <-e.lines:
					e.lineWhileIdle(ev, true)
				default:
					return
				}
			}
		}
	}
}

// copiedLine says whether line is one of the last answer's lines or the
// echo of its command.
func (e *Engine) copiedLine(line string) bool {
	for _, l := range e.lastAnswer {
		if strings.EqualFold(l, line) {
			return true
		}
	}
	return false
}
