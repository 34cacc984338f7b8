// goburn: spends its CPU time in one named function, burnCPU, for the
// number of seconds given as its argument, so that a CPU profile of it
// has that function on top.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

var sink uint64

//go:noinline
func burnCPU(until time.Time) uint64 {
	x := uint64(1)
	for time.Now().Before(until) {
		for i := 0; i < 100000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

func main() {
	seconds := 3.0
	if len(os.Args) > 1 {
		if s, err := strconv.ParseFloat(os.Args[1], 64); err == nil {
			seconds = s
		}
	}
	sink = burnCPU(time.Now().Add(time.Duration(seconds * float64(time.Second))))
	fmt.Println("done", sink != 0)
}
