package otelsession_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/sessionid/session/otelsession"
	"github.com/stretchr/testify/require"
)

func TestObserveLen(t *testing.T) {
	tel := newTelemetry(t)
	store := session.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	reg, err := otelsession.ObserveLen(tel.mp, store)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"": 0}, tel.points(t, "sessionid.store.record.count"))

	now := time.Now()
	for _, key := range []string{"k1", "k2"} {
		rec := &session.Record{CreatedAt: now, IdleDeadline: now.Add(time.Hour), AbsoluteDeadline: now.Add(time.Hour)}
		require.NoError(t, store.Create(context.Background(), key, rec))
	}
	require.Equal(t, map[string]int64{"": 2}, tel.points(t, "sessionid.store.record.count"))

	require.NoError(t, reg.Unregister())
	require.Empty(t, tel.points(t, "sessionid.store.record.count"))
}
