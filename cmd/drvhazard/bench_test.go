package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drvhazard/drvhazard/report"
	"github.com/drvhazard/drvhazard/rules"
)

// The scan benchmarks analyse a temporary folder of copies of the fixture
// drivers (testdata/bin/*.sys but bad_*), drawn evenly from the sorted list
// so that every folder size has the same mix: small drivers of a few KB and
// the 1.5 MB large.* ones. They run the whole of `drvhazard scan --format
// json`, writing to io.Discard. Run them with
//
//	go test ./cmd/drvhazard -run '^$' -bench Scan -benchtime 5x
//
// BenchmarkScanFolder reports ns/op and files/s on 40 and 80 files for one
// core (GOMAXPROCS 1) and -j 1, two cores and -j 1 (where the garbage
// collector runs on the idle core), and two cores and -j 2; it sets
// GOMAXPROCS itself, as -cpu 1 does not hold for the first run of a
// sub-benchmark. Three of every 40 files are large.* and take 97% of the time (about
// 260 ms each against 1 ms), so on 40 files two workers cannot do better
// than two large files one after the other, 1.5 times one worker; 80 files
// have six. BenchmarkScanMemory reports, for 20, 40, 80 and 160 files, the
// peak heap in use during the scan (sampled every millisecond) and the heap
// still live after it. Each result is rendered by its worker and dropped,
// the parts are written in path order, and the files started ahead of the
// next one to write are bounded (pendingBudget), so the peak should not
// grow with the folder.

// fixtureFolder makes a folder of n driver files and returns its path.
func fixtureFolder(b *testing.B, n int) string {
	b.Helper()
	all, err := filepath.Glob("../../testdata/bin/*.sys")
	if err != nil {
		b.Fatal(err)
	}
	var mix []string
	for _, p := range all {
		if !strings.HasPrefix(filepath.Base(p), "bad_") {
			mix = append(mix, p)
		}
	}
	sort.Strings(mix)
	if len(mix) == 0 {
		b.Fatal("no fixtures in testdata/bin")
	}
	dir := b.TempDir()
	for i := 0; i < n; i++ {
		src := mix[i*len(mix)/n%len(mix)]
		data, err := os.ReadFile(src)
		if err != nil {
			b.Fatal(err)
		}
		dst := filepath.Join(dir, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("%03d_%s", i, filepath.Base(src)))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// scanFolder runs the whole of `drvhazard scan --format json` on dir, the
// output going to io.Discard.
func scanFolder(b *testing.B, dir string, n, jobs int) {
	out, err := report.NewWriter(io.Discard, report.JSON, report.Options{})
	if err != nil {
		b.Fatal(err)
	}
	files := 0
	err = scan([]string{dir}, scanOptions{include: newMatcher([]string{defaultInclude}), jobs: jobs},
		func(r *rules.Result) report.Part {
			if r.Err != nil {
				b.Error(r.Err)
			}
			return out.Render(r)
		}, func(p report.Part) error {
			files++
			return out.Add(p)
		})
	if err == nil {
		err = out.Close()
	}
	if err != nil {
		b.Fatal(err)
	}
	if files != n {
		b.Fatalf("%d results, want %d", files, n)
	}
}

func BenchmarkScanFolder(b *testing.B) {
	for _, n := range []int{40, 80} {
		dir := fixtureFolder(b, n)
		for _, c := range []struct{ cores, jobs int }{{1, 1}, {2, 1}, {2, 2}} {
			b.Run(fmt.Sprintf("files=%d/cores=%d/j=%d", n, c.cores, c.jobs), func(b *testing.B) {
				if c.cores > runtime.NumCPU() {
					b.Skipf("%d cores on a machine of %d", c.cores, runtime.NumCPU())
				}
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(c.cores))
				for b.Loop() {
					scanFolder(b, dir, n, c.jobs)
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "files/s")
			})
		}
	}
}

func BenchmarkScanMemory(b *testing.B) {
	for _, n := range []int{20, 40, 80, 160} {
		dir := fixtureFolder(b, n)
		b.Run(fmt.Sprintf("files=%d/j=2", n), func(b *testing.B) {
			var peak, live uint64
			for b.Loop() {
				runtime.GC()
				stop := sampleHeap(&peak)
				scanFolder(b, dir, n, 2)
				stop()
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				live = max(live, ms.HeapAlloc)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(live)/(1<<20), "live-after-MB")
		})
	}
}

// sampleHeap records the largest HeapInuse seen into *peak until stop is
// called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
