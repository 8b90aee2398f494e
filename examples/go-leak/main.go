// go-leak: a Go service that leaks memory on purpose, for oomsentinel's demo and tests.
//
// It serves, on --listen, what real Go services expose about their memory:
//
//	/debug/pprof/...  net/http/pprof (heap, goroutine, profile, ...)
//	/debug/vars       expvar's standard handler (cmdline, memstats, and a "goleak" object)
//	/metrics          the official Prometheus client's default registry (Go and process
//	                  collectors), through promhttp.Handler()
//
// and meanwhile keeps allocating chunks that it writes to (so they are resident) and never frees,
// plus short-lived garbage ("churn") so the garbage collector runs often, like a busy server.
//
// Usage:
//
//	go-leak [--listen 127.0.0.1:6060] [--rate 50MiB/s] [--chunk 1MiB] [--max SIZE] [--hold]
//	        [--release-after SIZE] [--shape steady|bursts|leak-then-release] [--period 2s]
//	        [--memlimit SIZE] [--churn 20MiB/s]
//
// Sizes and rates are a number and a unit: B, KiB, MiB, GiB (K, M, G mean the same), with an
// optional "/s" on rates; a bare number means MiB ("--rate 50" is 50 MiB/s). 0 turns off --max,
// --release-after, --memlimit and --churn.
//
//	--rate           how fast memory is leaked, on average
//	--chunk          the size of one allocation (one step, one log line); at least 4KiB
//	--max            stop leaking before the kept bytes would pass this
//	--hold           when leaking stops (--max, or --release-after outside leak-then-release),
//	                 keep serving (and churning) until SIGTERM instead of exiting 0
//	--release-after  when this much is kept, drop it all, collect, and return it to the OS
//	--shape          steady: one chunk at a time at --rate;
//	                 bursts: every --period, a period's worth of chunks at once, then idle;
//	                 leak-then-release: a sawtooth, leaks at --rate up to --release-after
//	                 (required), releases, waits --period, and starts again
//	--memlimit       debug.SetMemoryLimit (the GOMEMLIMIT soft limit); 0 leaves it as it is
//	--churn          short-lived garbage allocated (and dropped) per second
//
// Every step prints one line on stdout, written at once:
//
//	2026-11-29T07:40:00.123456789Z alloc kept=1048576 num_gc=3
//
// (RFC 3339 time in UTC, the event, the bytes kept by the leak, runtime.MemStats.NumGC). Events:
// start, listen, alloc, released, done, hold, exit. SIGTERM or SIGINT stop it with exit status 0.
//
// Built by the project (examples/go-leak/CMakeLists.txt) offline, in GOPATH mode, against the
// Debian package golang-github-prometheus-client-golang-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode CGO_ENABLED=0 go build -buildvcs=false -o go-leak .
package main

import (
	"context"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const mib = 1 << 20

// size is a flag.Value for "50MiB/s", "1MiB", "4096B", "64" (MiB).
type size struct{ bytes float64 }

func (s *size) String() string {
	for _, u := range []struct {
		name  string
		bytes float64
	}{{"GiB", 1 << 30}, {"MiB", mib}, {"KiB", 1 << 10}} {
		if s.bytes >= u.bytes && s.bytes/u.bytes == float64(int64(s.bytes/u.bytes)) {
			return strconv.FormatFloat(s.bytes/u.bytes, 'f', -1, 64) + u.name
		}
	}
	return strconv.FormatFloat(s.bytes, 'f', -1, 64) + "B"
}

func (s *size) Set(text string) error {
	t := strings.TrimSuffix(strings.TrimSpace(text), "/s")
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	v, err := strconv.ParseFloat(t[:i], 64)
	if err != nil || v < 0 {
		return fmt.Errorf("bad size %q", text)
	}
	scale := map[string]float64{
		"": mib, "B": 1, "K": 1 << 10, "KiB": 1 << 10, "M": mib, "MiB": mib, "G": 1 << 30, "GiB": 1 << 30,
	}
	f, ok := scale[t[i:]]
	if !ok {
		return fmt.Errorf("bad unit in %q (expected B, KiB, MiB or GiB)", text)
	}
	s.bytes = v * f
	return nil
}

var (
	kept   atomic.Int64 // bytes held by the leak
	gcRead = []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
)

// numGC reads the completed GC cycles without stopping the world (runtime.ReadMemStats would).
func numGC() uint64 {
	metrics.Read(gcRead)
	if gcRead[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return gcRead[0].Value.Uint64()
}

func logf(event string, format string, args ...any) {
	extra := ""
	if format != "" {
		extra = " " + fmt.Sprintf(format, args...)
	}
	fmt.Fprintf(os.Stdout, "%s %s kept=%d num_gc=%d%s\n", time.Now().UTC().Format(time.RFC3339Nano),
		event, kept.Load(), numGC(), extra)
}

// sleepUntil waits for t or the context; false when the context ended.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// churn allocates short-lived objects of mixed sizes at bytesPerSec, each written to and kept in a
// small ring until it is overwritten, so the collector has both garbage and marking to do.
func churn(ctx context.Context, bytesPerSec float64) {
	const tick = 10 * time.Millisecond
	perTick := int(bytesPerSec * tick.Seconds())
	ring := make([][]byte, 512)
	sizes := []int{48, 200, 1 << 10, 4 << 10, 16 << 10, 64 << 10}
	next, k := 0, 0
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for done := 0; done < perTick; {
			n := sizes[k%len(sizes)]
			k++
			b := make([]byte, n)
			b[0], b[n-1] = byte(k), byte(k)
			ring[next] = b
			next = (next + 1) % len(ring)
			done += n
		}
	}
}

type leak struct {
	chunks [][]byte
	page   int
}

// leaked is a package variable, like the global caches of real leaks: the chunks stay reachable
// whatever the goroutine that added them is doing (a local would be dead, and collected, as soon
// as its last use is behind, even while its function still waits).
var leaked = &leak{page: os.Getpagesize()}

func (l *leak) grow(n int) {
	b := make([]byte, n)
	// A fresh span from the OS is already zero and make() does not write it: touch every page.
	for i := 0; i < n; i += l.page {
		b[i] = 0xab
	}
	b[n-1] = 0xab
	l.chunks = append(l.chunks, b)
	kept.Add(int64(n))
}

func (l *leak) release() {
	l.chunks = nil
	kept.Store(0)
	runtime.GC()
	debug.FreeOSMemory()
}

func main() {
	listen := flag.String("listen", "127.0.0.1:6060", "address to serve pprof, expvar and /metrics on")
	rate := &size{50 * mib}
	chunk := &size{mib}
	maxKept := &size{}
	releaseAfter := &size{}
	memlimit := &size{}
	churnRate := &size{20 * mib}
	flag.Var(rate, "rate", "leak rate, e.g. 50MiB/s (a bare number is MiB/s)")
	flag.Var(chunk, "chunk", "size of one leaked allocation, at least 4KiB")
	flag.Var(maxKept, "max", "stop leaking before the kept bytes would pass this (0: never)")
	hold := flag.Bool("hold", false, "when leaking stops, keep serving until SIGTERM instead of exiting")
	flag.Var(releaseAfter, "release-after", "release everything once this much is kept (0: never)")
	shape := flag.String("shape", "steady", "steady, bursts or leak-then-release")
	period := flag.Duration("period", 2*time.Second, "burst period; pause after a release in leak-then-release")
	flag.Var(memlimit, "memlimit", "debug.SetMemoryLimit value (0: leave GOMEMLIMIT as it is)")
	flag.Var(churnRate, "churn", "short-lived garbage per second, e.g. 20MiB/s (0: none)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go-leak [--listen ADDR] [--rate 50MiB/s] [--chunk 1MiB] [--max SIZE] [--hold]\n"+
			"               [--release-after SIZE] [--shape steady|bursts|leak-then-release] [--period 2s]\n"+
			"               [--memlimit SIZE] [--churn 20MiB/s]")
		flag.PrintDefaults()
	}
	flag.Parse()
	usage := func(msg string) {
		fmt.Fprintln(os.Stderr, "go-leak: "+msg)
		os.Exit(2)
	}
	if flag.NArg() > 0 {
		usage("unexpected argument " + flag.Arg(0))
	}
	if rate.bytes <= 0 || chunk.bytes < 4096 {
		usage("--rate must be > 0 and --chunk at least 4KiB")
	}
	if *shape != "steady" && *shape != "bursts" && *shape != "leak-then-release" {
		usage("--shape must be steady, bursts or leak-then-release")
	}
	if *shape == "leak-then-release" && releaseAfter.bytes <= 0 {
		usage("--shape leak-then-release needs --release-after")
	}
	if *period <= 0 {
		usage("--period must be > 0")
	}
	if memlimit.bytes > 0 {
		debug.SetMemoryLimit(int64(memlimit.bytes))
	}

	expvar.Publish("goleak", expvar.Func(func() any {
		return map[string]any{"kept_bytes": kept.Load(), "shape": *shape}
	}))
	prometheus.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "goleak_kept_bytes",
		Help: "Bytes held by go-leak's leak.",
	}, func() float64 { return float64(kept.Load()) }))
	http.Handle("/metrics", promhttp.Handler())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-leak:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	logf("start", "pid=%d rate=%.0f chunk=%.0f max=%.0f hold=%t release_after=%.0f shape=%s period=%s "+
		"memlimit=%d churn=%.0f go=%s", os.Getpid(), rate.bytes, chunk.bytes, maxKept.bytes, *hold,
		releaseAfter.bytes, *shape, *period, debug.SetMemoryLimit(-1), churnRate.bytes, runtime.Version())
	logf("listen", "addr=%s", ln.Addr())
	if churnRate.bytes > 0 {
		go churn(ctx, churnRate.bytes)
	}

	finished := make(chan struct{})
	go func() {
		defer close(finished)
		run(ctx, leaked, rate.bytes, int(chunk.bytes), maxKept.bytes,
			releaseAfter.bytes, *shape, *period, *hold)
	}()

	select {
	case <-finished:
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "go-leak: serve:", err)
			os.Exit(1)
		}
	}
	cause := "done"
	if ctx.Err() != nil {
		cause = "signal"
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	logf("exit", "cause=%s", cause)
}

// run leaks until --max, a one-off release, or the context ends; with hold it then waits for the
// context.
func run(ctx context.Context, l *leak, rate float64, chunk int, maxKept, releaseAfter float64, shape string,
	period time.Duration, hold bool) {
	burst := rate * period.Seconds() // bytes per burst in the bursts shape
	phaseStart := time.Now()
	var phaseBytes float64 // allocated since phaseStart: the schedule's clock
	due := func() time.Time {
		if shape == "bursts" {
			n := int64(phaseBytes / burst)
			return phaseStart.Add(time.Duration(n) * period)
		}
		return phaseStart.Add(time.Duration(phaseBytes / rate * float64(time.Second)))
	}
	stopLeaking := func(event string) {
		logf(event, "")
		if hold {
			logf("hold", "")
			<-ctx.Done()
		}
	}
	for ctx.Err() == nil {
		k := float64(kept.Load())
		if releaseAfter > 0 && k >= releaseAfter {
			l.release()
			logf("released", "freed=%.0f", k)
			if shape != "leak-then-release" {
				stopLeaking("done")
				return
			}
			if !sleepUntil(ctx, time.Now().Add(period)) {
				return
			}
			phaseStart, phaseBytes = time.Now(), 0
			continue
		}
		if maxKept > 0 && k+float64(chunk) > maxKept {
			stopLeaking("done")
			return
		}
		if !sleepUntil(ctx, due()) {
			return
		}
		l.grow(chunk)
		phaseBytes += float64(chunk)
		logf("alloc", "")
	}
}
