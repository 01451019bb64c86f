package gateway

import (
	"log/slog"
	"reflect"
	"testing"

	"edgebox/internal/config"
)

// TestOfferParsedOnce: takeOffer keeps its parse of the browser's offer
// for the lean answer, which reads from it what parsing the text again
// reads, so a lean call set-up parses the offer once (pion's SDP parser
// was a few per cent of the set-up CPU, and ran twice on it).
func TestOfferParsedOnce(t *testing.T) {
	offer := leanTestOffer([]byte("the browser's certificate"))
	c := &call{log: slog.New(slog.DiscardHandler), cfg: new(config.DefaultGateway())}
	if err := c.takeOffer(offer); err != nil {
		t.Fatal(err)
	}
	if c.offerDesc == nil {
		t.Fatal("takeOffer kept no parse of the offer")
	}
	kept, err := leanOfferOf(c.offerDesc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := parseLeanOffer(offer)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(kept, again) {
		t.Errorf("the kept parse reads\n%+v\nparsing again reads\n%+v", kept, again)
	}
	once := testing.AllocsPerRun(20, func() {
		c.takeOffer(offer)
		leanOfferOf(c.offerDesc)
	})
	twice := testing.AllocsPerRun(20, func() {
		c.takeOffer(offer)
		parseLeanOffer(c.offerSDP)
	})
	if once > twice*3/4 {
		t.Errorf("offer and lean answer: %.0f allocations, %.0f parsing twice: want well under", once, twice)
	}
	t.Logf("%.0f allocations with the kept parse, %.0f parsing twice", once, twice)
}
