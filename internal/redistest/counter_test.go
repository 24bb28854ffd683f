package redistest

import "testing"

func TestSentString(t *testing.T) {
	tests := []struct {
		name string
		sent Sent
		want string
	}{
		{"nothing", Sent{}, ""},
		{"one command", Sent{Trips: 1, Calls: map[string]int{"hgetall": 1}, Order: []string{"hgetall"}}, "hgetall"},
		{"in the order first sent", Sent{Trips: 2, Calls: map[string]int{"hgetall": 1, "evalsha": 1}, Order: []string{"hgetall", "evalsha"}}, "hgetall evalsha"},
		{"repeats counted", Sent{Trips: 3, Calls: map[string]int{"get": 2, "set": 1}, Order: []string{"get", "set"}}, "get×2 set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.sent.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}
