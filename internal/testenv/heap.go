package testenv

import "runtime"

// LiveHeap returns the bytes of the live heap after two full collections,
// for tests and benchmarks that measure what a store keeps.
func LiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
