package syncbuf

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestConcurrentWritesAllArrive(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "%d-%d\n", i, j)
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 {
		t.Fatalf("%d lines, want 800", n)
	}
}

func TestTail(t *testing.T) {
	var b Buffer
	if got := b.Tail(2); got != "" {
		t.Errorf("empty: %q", got)
	}
	b.Write([]byte("a\nb\nc\n"))
	if got := b.Tail(2); got != "b\nc" {
		t.Errorf("Tail(2) = %q, want %q", got, "b\nc")
	}
	if got := b.Tail(5); got != "a\nb\nc" {
		t.Errorf("Tail(5) = %q", got)
	}
}
