package benchmarks

import (
	"net/http"
	"sync/atomic"
	"testing"
)

// Each workload runs one sub-benchmark per library, named after it, so that
// benchstat can put the libraries side by side; "bare" is the floor that the
// overheads are measured from.

// BenchmarkRead: an existing session; the handler reads one int.
func BenchmarkRead(b *testing.B) { benchExisting(b, readHandler, 0) }

// BenchmarkWrite: an existing session; the handler increments the int.
func BenchmarkWrite(b *testing.B) { benchExisting(b, writeHandler, 1) }

// BenchmarkCreate: a new visitor; the handler stores one value, so the
// library issues a new ID.
func BenchmarkCreate(b *testing.B) {
	for _, name := range libraryNames {
		b.Run(name, func(b *testing.B) {
			l := newLibrary(b, name)
			h := createHandler(l)
			c := newVisitor(b, l) // checks that a visit creates a session
			if c != nil && stored(b, l, c) != 1 {
				b.Fatalf("%s: a new session does not hold its value", name)
			}
			base := request(nil)
			serveTimed(b, h, base)
		})
	}
}

// benchExisting runs the handler made by mk on an existing session; delta
// is how much one request changes n.
func benchExisting(b *testing.B, mk func(*library) http.Handler, delta int) {
	for _, name := range libraryNames {
		b.Run(name, func(b *testing.B) {
			l := newLibrary(b, name)
			h := mk(l)
			cookie := newVisitor(b, l)
			checkLoads(b, l, h, cookie, delta)
			base := request(cookie)
			serveTimed(b, h, base)
		})
	}
}

// parallelSessions is how many sessions the parallel workloads spread their
// requests over, as many clients do.
const parallelSessions = 64

// BenchmarkReadParallel: BenchmarkRead from GOMAXPROCS goroutines, each on
// its own sessions. Run it with -cpu 1,2,… to see how throughput scales.
func BenchmarkReadParallel(b *testing.B) { benchParallel(b, readHandler, 0) }

// BenchmarkWriteParallel: BenchmarkWrite from GOMAXPROCS goroutines.
func BenchmarkWriteParallel(b *testing.B) { benchParallel(b, writeHandler, 1) }

func benchParallel(b *testing.B, mk func(*library) http.Handler, delta int) {
	for _, name := range libraryNames {
		b.Run(name, func(b *testing.B) {
			l := newLibrary(b, name)
			h := mk(l)
			bases := make([]*http.Request, parallelSessions)
			for i := range bases {
				cookie := newVisitor(b, l)
				if i == 0 {
					checkLoads(b, l, h, cookie, delta)
				}
				bases[i] = request(cookie)
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1))
				for pb.Next() {
					i++
					if w := serve(h, bases[i%len(bases)]); w.Code != http.StatusOK {
						b.Errorf("status %d", w.Code)
						return
					}
				}
			})
		})
	}
}
