package auth

import (
	"fmt"
	"testing"
)

// BenchmarkAuthenticateCached is the cost of Basic authentication for a
// client that sends its credentials with every request.
func BenchmarkAuthenticateCached(b *testing.B) {
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.AddUser("bench", "bench password", UserOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Authenticate("bench", "bench password", "127.0.0.1:1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAuthenticateBcrypt is a first login: one bcrypt comparison at
// the default cost.
func BenchmarkAuthenticateBcrypt(b *testing.B) {
	s, err := Open(b.TempDir(), &Options{CacheTTL: -1})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.AddUser("bench", "bench password", UserOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Authenticate("bench", "bench password", fmt.Sprintf("10.0.0.%d:1", i%250)); err != nil {
			b.Fatal(err)
		}
	}
}
