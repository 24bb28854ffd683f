package sqlitestore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionid/session"
)

// BenchmarkWriteParallel measures the write throughput of one store under
// many concurrent requests (b.RunParallel, GOMAXPROCS goroutines times
// -cpu, raised by SetParallelism): each changes one value of its own
// session, as a request that writes does (one Update). Every write is a
// transaction on the single writer connection. Run with
//
//	go test -run '^$' -bench WriteParallel -benchtime 3s ./sqlitestore
func BenchmarkWriteParallel(b *testing.B) {
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("fullsync=%v", full), func(b *testing.B) {
			s := newTestStore(b, WithFullSync(full))
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				k := fmt.Sprint("bench-", n.Add(1))
				if err := s.Create(ctx, k, liveRecord("", map[string][]byte{"a": []byte("1"), "b": []byte("2")})); err != nil {
					b.Error(err)
					return
				}
				v := make([]byte, 64)
				for i := 0; pb.Next(); i++ {
					v[0] = byte(i)
					d := session.Delta{Set: map[string][]byte{"cart": v}, LastSeen: time.Now()}
					if err := s.Update(ctx, k, d); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

// BenchmarkLoadParallel measures concurrent reads, which run on the reader
// connections beside the writer.
func BenchmarkLoadParallel(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	values := map[string][]byte{}
	for i := range 10 {
		values[fmt.Sprint("k", i)] = make([]byte, 32)
	}
	if err := s.Create(ctx, "bench", liveRecord("", values)); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Load(ctx, "bench"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "loads/s")
}
