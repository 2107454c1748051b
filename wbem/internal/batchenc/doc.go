// Package batchenc encodes runs of results on worker goroutines while the
// goroutine producing them goes on: the parallel half of the enumeration
// paths of CIM-XML (wbem/cimxml) and WS-Management (wbem/wsman), where a
// provider and the core produce instances on one goroutine and encoding
// them is most of the remaining work.
//
// The producer fills a Batch, submits it and, later, waits for it; batches
// waited for in the order they were submitted give output byte for byte
// equal to encoding the results one after another. A worker reads the
// results after the producer has handed them over, which the provider
// contract of package wbem allows (a yielded instance is not modified
// afterwards). A panic while encoding (a bug) fails the batch instead of
// the process.
package batchenc
