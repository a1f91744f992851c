package warehouse

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

// TestSortEventsOrder: the integer prefix never changes the order of
// (entity_id, timestamp, seq), whatever the ids share: none, sixteen
// bytes or more, a whole id as another's prefix, multi-byte characters.
func TestSortEventsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ids := []string{"", "a", "ab", "abcdefgh", "abcdefghi", "abcdefgh1", "abcdefgi", "ä", "äb", "user-1", "user-10", "user-2", "Z", "12345678", "123456789",
		"abcdefghijklmnop", "abcdefghijklmnop1", "abcdefghijklmnoq"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []*allsource.Event
	for i := range 3000 {
		id := ids[rng.IntN(len(ids))]
		if rng.IntN(4) == 0 {
			id = fmt.Sprintf("%s%d", id, rng.IntN(30))
		}
		evs = append(evs, &allsource.Event{EntityID: id, Seq: uint64(i + 1),
			Timestamp: base.Add(time.Duration(rng.IntN(5)) * time.Nanosecond)})
	}
	want := slices.Clone(evs)
	slices.SortFunc(want, func(a, b *allsource.Event) int {
		if c := strings.Compare(a.EntityID, b.EntityID); c != 0 {
			return c
		}
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	sortEvents(evs)
	for i := range evs {
		if evs[i] != want[i] {
			t.Fatalf("position %d: %q/%d, want %q/%d", i, evs[i].EntityID, evs[i].Seq, want[i].EntityID, want[i].Seq)
		}
	}
	ids = append(ids, "abcdefghijklmnop", "abcdefghijklmnopq", "abcdefghijklmnoq", "user-1234567", "user-1234568")
	for _, a := range ids {
		for _, b := range ids {
			if c := comparePrefix(prefix16(a), prefix16(b)); c != 0 && c != strings.Compare(a, b) {
				t.Fatalf("prefix16 orders %q and %q unlike the strings", a, b)
			}
		}
	}
}
