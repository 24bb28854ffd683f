package otelsession

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/metric"
)

// Lener is a store that can say how many records it holds, such as
// [session.MemoryStore].
type Lener interface {
	Len() int
}

// ObserveLen reports s.Len() at each collection of a meter of mp (nil: the
// global MeterProvider) as sessionid.store.record.count ({record}), an
// asynchronous UpDownCounter, until the returned Registration is
// unregistered (before closing s, say). For a [session.MemoryStore] that is
// the live sessions plus the tombstones of recent renewals and the expired
// sessions its sweeper has not yet removed. ObserveLen fails only if the
// meter does not create the instrument.
func ObserveLen(mp metric.MeterProvider, s Lener) (metric.Registration, error) {
	meter := meterOf(mp)
	count, err := meter.Int64ObservableUpDownCounter("sessionid.store.record.count",
		metric.WithUnit("{record}"),
		metric.WithDescription("Records held by the session store, tombstones and expired sessions not yet removed included."))
	if err != nil {
		return nil, fmt.Errorf("otelsession: creating record count: %w", err)
	}
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(count, int64(s.Len()))
		return nil
	}, count)
	if err != nil {
		return nil, fmt.Errorf("otelsession: registering record count: %w", err)
	}
	return reg, nil
}
