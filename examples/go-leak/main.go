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
//	        [--memlimit SIZE] [--churn 20MiB/s] [--prefill SIZE]
//	        [--self-profile DIR [--self-profile-period 3s] [--self-profile-threshold 85%]]
//
// Sizes and rates are a number and a unit: B, KiB, MiB, GiB (K, M, G mean the same), with an
// optional "/s" on rates; a bare number means MiB ("--rate 50" is 50 MiB/s). 0 turns off --max,
// --release-after, --memlimit, --churn and --prefill.
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
//	--prefill        before the leak proper, leak this much as fast as possible, in --chunk steps
//	                 into the same kept structure, with no line per step; then one "prefilled"
//	                 line, and the leak goes on at --rate (and in --shape) from there. It counts
//	                 toward --max (must not pass it) and --release-after. A race then starts near
//	                 a limit instead of spending seconds getting there.
//	--self-profile   the in-process baseline (see below): write heap profiles into this directory
//	                 (created if missing) when memory nears the cgroup's limit
//	--self-profile-period     how often it looks (a time.Ticker: the first look is one period in)
//	--self-profile-threshold  the share of the cgroup memory limit, "85%" (or "85"), above which
//	                          MemStats.Sys triggers a profile
//
// The in-process baseline (--self-profile) is the classic pattern Go services use to catch their
// own leaks, what mosn/holmes and hand-written watchdogs do: a goroutine on a time.Ticker calls
// runtime.ReadMemStats every period and, when MemStats.Sys (the memory the Go runtime has
// obtained from the OS: heap, stacks and runtime metadata, live or garbage, counted as mapped
// address space, so including heap already returned with madvise; not what is resident, and it
// can pass the limit) is above the threshold share of the process's cgroup memory limit, writes
// pprof.WriteHeapProfile to DIR/heap-<unix-nanos>.pprof (through a temporary name, fsync, rename:
// a file under the final name is a complete profile), then writes no other for 30 s (a cooldown,
// like holmes; a failed write starts it too). The profile is the heap as of the last completed
// GC, as Go heap profiles are; took= is the write, fsync and rename. It is there to be raced
// against oomsentinel: it sees only its own process, only every period, only what the Go runtime
// counts (not what the kernel charges the cgroup), and it must still be able to run when the
// kernel is about to kill it. The limit is read once, at
// start, from /proc/self/cgroup: the cgroup v1 memory controller's
// /sys/fs/cgroup/memory/<path>/memory.limit_in_bytes, or else cgroup v2's (the "0::<path>" line)
// /sys/fs/cgroup/<path>/memory.max. Without a limit ("max", v1's unlimited value, or no readable
// file) it says so once ("self-profile no-limit") and never profiles.
//
// Every step prints one line on stdout, written at once:
//
//	2026-11-29T07:40:00.123456789Z alloc kept=1048576 num_gc=3
//
// (RFC 3339 time in UTC, the event, the bytes kept by the leak, runtime.MemStats.NumGC, then the
// event's own fields). Events: start, listen, prefilled (took=), alloc, released, done, hold,
// exit. The in-process baseline's lines put its words first, so that they read as a phrase:
//
//	2026-11-29T07:40:00.123456789Z self-profile armed limit=268435456 threshold=228170137 period=3s cgroup=/sys/fs/cgroup/memory/x/memory.limit_in_bytes kept=0 num_gc=0
//	2026-11-29T07:40:00.123456789Z self-profile no-limit cgroup=/sys/fs/cgroup/memory/memory.limit_in_bytes kept=0 num_gc=0
//	2026-11-29T07:40:09.123456789Z self-profile written path=/tmp/sp/heap-1795938009123456789.pprof took=1.234ms sys=230686720 kept=188743680 num_gc=9
//	2026-11-29T07:40:09.123456789Z self-profile failed err="open /tmp/sp/...: no space left on device" sys=230686720 kept=188743680 num_gc=9
//
// SIGTERM or SIGINT stop it with exit status 0.
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
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
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

// logf writes one line, in one write(2) (os.Stdout is not buffered): a reader of a file or a pipe
// has every line, with its time, as soon as it is logged.
func logf(event string, format string, args ...any) {
	extra := ""
	if format != "" {
		extra = " " + fmt.Sprintf(format, args...)
	}
	fmt.Fprintf(os.Stdout, "%s %s kept=%d num_gc=%d%s\n", time.Now().UTC().Format(time.RFC3339Nano),
		event, kept.Load(), numGC(), extra)
}

// selfLogf writes an in-process baseline line: "<time> self-profile <what> <fields> kept= num_gc=".
func selfLogf(what string, format string, args ...any) {
	fields := ""
	if format != "" {
		fields = " " + fmt.Sprintf(format, args...)
	}
	fmt.Fprintf(os.Stdout, "%s self-profile %s%s kept=%d num_gc=%d\n",
		time.Now().UTC().Format(time.RFC3339Nano), what, fields, kept.Load(), numGC())
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

// percent is a flag.Value for a share in (0, 100]: "85%" or "85".
type percent struct{ value float64 }

func (p *percent) String() string { return strconv.FormatFloat(p.value, 'f', -1, 64) + "%" }

func (p *percent) Set(text string) error {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(text), "%"), 64)
	if err != nil || v <= 0 || v > 100 {
		return fmt.Errorf("bad percentage %q (expected more than 0 and at most 100, e.g. 85%%)", text)
	}
	p.value = v
	return nil
}

// The cooldown after a heap profile is written (or fails), as in holmes.
const selfProfileCooldown = 30 * time.Second

// cgroupMemoryLimit finds this process's cgroup memory limit through /proc/self/cgroup: the cgroup
// v1 memory controller's memory.limit_in_bytes if there is one, else cgroup v2's memory.max. It
// returns the file read, and limited=false for no limit ("max", or v1's "unlimited", which is
// the largest page count the kernel can hold, close to 2^63).
func cgroupMemoryLimit() (limit uint64, file string, limited bool, err error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, "/proc/self/cgroup", false, err
	}
	v2Path, haveV2 := "", false
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2Path, haveV2 = parts[2], true
			continue
		}
		for _, controller := range strings.Split(parts[1], ",") {
			if controller != "memory" {
				continue
			}
			file = filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
			limit, err = readLimit(file)
			return limit, file, err == nil && limit < 1<<62, err
		}
	}
	if !haveV2 {
		return 0, "/proc/self/cgroup", false, errors.New("no memory controller line in /proc/self/cgroup")
	}
	file = filepath.Join("/sys/fs/cgroup", v2Path, "memory.max")
	limit, err = readLimit(file)
	return limit, file, err == nil && limit > 0, err
}

// readLimit reads a limit file: a number of bytes, or "max" (returned as 0).
func readLimit(file string) (uint64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	text := strings.TrimSpace(string(data))
	if text == "max" {
		return 0, nil
	}
	v, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: bad limit %q", file, text)
	}
	return v, nil
}

// selfProfile is the in-process baseline: every period, runtime.ReadMemStats (which stops the
// world for a moment, as it does in the services that do this), and a heap profile when
// MemStats.Sys is above threshold, at most one per selfProfileCooldown.
func selfProfile(ctx context.Context, dir string, period time.Duration, threshold uint64) {
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	var last time.Time // the last attempt; zero: none yet
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.Sys <= threshold || (!last.IsZero() && time.Since(last) < selfProfileCooldown) {
			continue
		}
		last = time.Now()
		path, took, err := writeHeapProfile(dir, last)
		if err != nil {
			selfLogf("failed", "err=%q sys=%d", err.Error(), ms.Sys)
			continue
		}
		selfLogf("written", "path=%s took=%s sys=%d", path, took, ms.Sys)
	}
}

// writeHeapProfile writes pprof.WriteHeapProfile to dir/heap-<unix nanos of at>.pprof through a
// temporary name in dir, fsynced before the rename, so that the final name is only ever a whole
// profile. took runs from the start of the write to the rename.
func writeHeapProfile(dir string, at time.Time) (path string, took time.Duration, err error) {
	start := time.Now()
	path = filepath.Join(dir, fmt.Sprintf("heap-%d.pprof", at.UnixNano()))
	f, err := os.CreateTemp(dir, ".heap-*.pprof.tmp")
	if err != nil {
		return path, time.Since(start), err
	}
	err = pprof.WriteHeapProfile(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return path, time.Since(start), err
}

// checkDir makes dir if it is missing and checks that a file can be made in it.
func checkDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".go-leak-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
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
	prefill := &size{}
	flag.Var(prefill, "prefill", "leak this much as fast as possible first, into the same kept chunks, then "+
		"log \"prefilled\" and go on at --rate (0: off)")
	selfDir := flag.String("self-profile", "", "the in-process baseline, the classic pattern of Go services "+
		"(mosn/holmes, hand-written watchdogs): write heap profiles (pprof.WriteHeapProfile) to "+
		"`DIR`/heap-<unix-nanos>.pprof when runtime.MemStats.Sys, the memory obtained from the OS, is above "+
		"--self-profile-threshold of the cgroup memory limit; one per 30s at most (\"\": off)")
	selfPeriod := flag.Duration("self-profile-period", 3*time.Second,
		"how often the in-process baseline calls runtime.ReadMemStats (a time.Ticker)")
	selfThreshold := &percent{85}
	flag.Var(selfThreshold, "self-profile-threshold",
		"share of the cgroup memory limit that MemStats.Sys must pass to trigger a profile, e.g. 85%")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go-leak [--listen ADDR] [--rate 50MiB/s] [--chunk 1MiB] [--max SIZE] [--hold]\n"+
			"               [--release-after SIZE] [--shape steady|bursts|leak-then-release] [--period 2s]\n"+
			"               [--memlimit SIZE] [--churn 20MiB/s] [--prefill SIZE]\n"+
			"               [--self-profile DIR [--self-profile-period 3s] [--self-profile-threshold 85%]]")
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
	if maxKept.bytes > 0 && prefill.bytes > maxKept.bytes {
		usage("--prefill must not be more than --max")
	}
	if *selfPeriod <= 0 {
		usage("--self-profile-period must be > 0")
	}
	if *selfDir != "" {
		if err := checkDir(*selfDir); err != nil {
			usage(fmt.Sprintf("--self-profile %s: cannot write profiles there: %v", *selfDir, err))
		}
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
		"memlimit=%d churn=%.0f go=%s prefill=%.0f", os.Getpid(), rate.bytes, chunk.bytes, maxKept.bytes, *hold,
		releaseAfter.bytes, *shape, *period, debug.SetMemoryLimit(-1), churnRate.bytes, runtime.Version(),
		prefill.bytes)
	logf("listen", "addr=%s", ln.Addr())
	if *selfDir != "" {
		limit, file, limited, err := cgroupMemoryLimit()
		switch {
		case err != nil:
			selfLogf("no-limit", "cgroup=%s err=%q", file, err.Error())
		case !limited:
			selfLogf("no-limit", "cgroup=%s", file)
		default:
			threshold := uint64(float64(limit) * selfThreshold.value / 100)
			selfLogf("armed", "limit=%d threshold=%d period=%s cgroup=%s", limit, threshold, *selfPeriod, file)
			go selfProfile(ctx, *selfDir, *selfPeriod, threshold)
		}
	}
	if churnRate.bytes > 0 {
		go churn(ctx, churnRate.bytes)
	}

	finished := make(chan struct{})
	go func() {
		defer close(finished)
		if !fill(ctx, leaked, int64(prefill.bytes), int(chunk.bytes)) {
			return
		}
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

// fill leaks n bytes as fast as it can, in chunk steps (the last one what is left) through the
// leak's own grow, without a line per step, then logs "prefilled". False when the context ended.
func fill(ctx context.Context, l *leak, n int64, chunk int) bool {
	if n <= 0 {
		return true
	}
	start := time.Now()
	for done := int64(0); done < n; {
		if ctx.Err() != nil {
			return false
		}
		step := int64(chunk)
		if n-done < step {
			step = n - done
		}
		l.grow(int(step))
		done += step
	}
	logf("prefilled", "took=%s", time.Since(start))
	return true
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
