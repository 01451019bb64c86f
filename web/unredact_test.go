package web

import (
	"reflect"
	"testing"
)

// TestUnredactKeepsEachEntrysOwnSecret: an admin deletes the first of two
// named list entries from a redacted document and sends it back. The
// remaining entry keeps its own secret (it got the deleted entry's, by
// position, before); a new entry that says Redacted has no secret to keep
// and is named so the save can be refused; an entry with no naming key
// still goes by position.
func TestUnredactKeepsEachEntrysOwnSecret(t *testing.T) {
	old := map[string]any{"ami": map[string]any{"users": []any{
		map[string]any{"username": "crm", "password": "crm-secret"},
		map[string]any{"username": "dialer", "password": "dialer-secret"},
	}}, "keys": []any{map[string]any{"secret": "k0"}}}
	doc := map[string]any{"ami": map[string]any{"users": []any{
		map[string]any{"username": "dialer", "password": Redacted},
		map[string]any{"username": "newbie", "password": Redacted},
	}}, "keys": []any{map[string]any{"secret": Redacted}}}
	unmatched := unredact(doc, old)
	users := doc["ami"].(map[string]any)["users"].([]any)
	if got := users[0].(map[string]any)["password"]; got != "dialer-secret" {
		t.Errorf("the remaining user's password after the first was deleted: %v, want its own", got)
	}
	if want := []string{"ami.users[1].password"}; !reflect.DeepEqual(unmatched, want) {
		t.Errorf("unmatched %v, want %v", unmatched, want)
	}
	if got := doc["keys"].([]any)[0].(map[string]any)["secret"]; got != "k0" {
		t.Errorf("an unnamed entry by position: %v", got)
	}
}
