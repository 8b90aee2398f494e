// java-leak: a Java program that leaks memory on purpose, for oomsentinel's demo and tests.
//
// It keeps allocating byte arrays that it writes to (so their pages are resident) and holds them
// in a static list, like a global cache that is never evicted; optionally it also makes
// short-lived garbage ("churn") so that young collections run, like a busy server. Its heap, GC
// and class-metadata counters are what the JVM publishes in its hsperfdata file
// (/tmp/hsperfdata_<user>/<pid>, read by jstat and by oomsentinel's JvmPerfCollector).
//
// Usage (plain Java 17, no dependencies):
//
//   java -Xmx256m -cp DIR JavaLeak [--rate 50MiB/s] [--chunk 1MiB] [--max SIZE] [--hold]
//        [--release-after SIZE] [--shape steady|bursts|leak-then-release] [--period 2s]
//        [--churn 0] [--prefill SIZE]
//
// Sizes and rates are a number and an optional unit, as for the C++ leaker: B (or none), K or
// KiB, M or MiB, G or GiB, with an optional "/s" on rates. 0 turns off --max, --release-after,
// --churn and --prefill.
//
//   --rate           how fast memory is leaked, on average
//   --chunk          the size of one leaked array (one step, one log line); 4KiB to 1GiB
//   --max            stop leaking before the kept bytes would pass this
//   --hold           when leaking stops, stay alive until SIGTERM instead of exiting 0
//   --release-after  when this much is kept, drop it all and run System.gc()
//   --shape          steady: one chunk at a time at --rate;
//                    bursts: every --period, a period's worth of chunks at once, then idle;
//                    leak-then-release: a sawtooth, leaks at --rate up to --release-after
//                    (required), releases, waits --period, and starts again
//   --period         the burst period, and the pause after a release in leak-then-release
//   --churn          short-lived garbage allocated (and dropped) per second while leaking; it
//                    stops with the leak, so that a held process is idle and its counters stay
//                    still
//   --prefill        before the leak proper, leak this much as fast as possible, in --chunk
//                    steps into the same static list, with no line per step; then one
//                    "prefilled" line, and the leak goes on at --rate (and in --shape) from
//                    there. It counts toward --max (must not pass it) and --release-after. A race
//                    then starts near a limit instead of spending seconds getting there. The heap
//                    must hold it: in a memory cgroup the JVM sizes its default heap from the
//                    limit (128 MiB of a 256 MiB limit on JDK 17), so give -Xmx (or
//                    -XX:MaxRAMPercentage) for the kernel, not the JVM, to be the one that stops
//                    it.
//
// Every step prints one line on stdout, flushed at once:
//
//   2026-11-29T07:40:00.123456Z alloc kept=1048576 gc=3
//
// (ISO-8601 time in UTC, the event, the bytes kept by the leak, and the collections so far as the
// GarbageCollectorMXBeans count them, then the event's own fields). Events: start, prefilled
// (took_ms=), alloc, released, done, hold, exit, oom (an OutOfMemoryError). SIGTERM or SIGINT end
// it (the JVM's exit status for the signal) after an "exit cause=signal" line.

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.time.Instant;
import java.util.ArrayList;
import java.util.concurrent.atomic.AtomicLong;

public final class JavaLeak {
  private static final long MIB = 1L << 20;
  private static final int PAGE = 4096;

  // Static, like the caches real leaks live in: reachable whatever the main thread is doing.
  private static final ArrayList<byte[]> LEAKED = new ArrayList<>();
  private static final AtomicLong KEPT = new AtomicLong();
  private static volatile boolean finished = false;
  private static volatile boolean leaking = true;
  // Written by the churn thread so the JIT cannot drop its allocations as dead.
  static volatile byte[] sink;

  private JavaLeak() {}

  private static void usage(String message) {
    System.err.println("java-leak: " + message);
    System.err.println(
        "usage: java-leak [--rate 50MiB/s] [--chunk 1MiB] [--max SIZE] [--hold]\n"
            + "                 [--release-after SIZE] [--shape steady|bursts|leak-then-release]"
            + " [--period 2s]\n"
            + "                 [--churn 0] [--prefill SIZE]");
    System.exit(2);
  }

  static long parseSize(String text) {
    String t = text.trim();
    if (t.endsWith("/s")) t = t.substring(0, t.length() - 2);
    int i = 0;
    while (i < t.length() && (Character.isDigit(t.charAt(i)) || t.charAt(i) == '.')) i++;
    double v;
    try {
      v = Double.parseDouble(t.substring(0, i));
    } catch (NumberFormatException e) {
      usage("bad size '" + text + "'");
      return 0;
    }
    String unit = t.substring(i);
    double scale;
    switch (unit) {
      case "":
      case "B":
        scale = 1;
        break;
      case "K":
      case "KiB":
        scale = 1L << 10;
        break;
      case "M":
      case "MiB":
        scale = MIB;
        break;
      case "G":
      case "GiB":
        scale = 1L << 30;
        break;
      default:
        usage("bad unit in '" + text + "' (expected B, KiB, MiB or GiB)");
        return 0;
    }
    return (long) (v * scale);
  }

  // "2s", "500ms", "1.5s", or a bare number of seconds.
  static long parseMillis(String text) {
    String t = text.trim();
    try {
      if (t.endsWith("ms")) return Long.parseLong(t.substring(0, t.length() - 2));
      if (t.endsWith("s")) t = t.substring(0, t.length() - 1);
      return (long) (Double.parseDouble(t) * 1000);
    } catch (NumberFormatException e) {
      usage("bad duration '" + text + "'");
      return 0;
    }
  }

  static long gcCount() {
    long n = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      long c = gc.getCollectionCount();
      if (c > 0) n += c;
    }
    return n;
  }

  static synchronized void log(String event, String extra) {
    StringBuilder line = new StringBuilder(96);
    line.append(Instant.now()).append(' ').append(event);
    line.append(" kept=").append(KEPT.get()).append(" gc=").append(gcCount());
    if (!extra.isEmpty()) line.append(' ').append(extra);
    System.out.println(line);
    System.out.flush();
  }

  static void grow(int n) {
    byte[] b = new byte[n];
    // The JVM zeroes a new array, but a fresh heap region may be zero pages it never wrote:
    // touch every page so the kernel charges it.
    for (int i = 0; i < n; i += PAGE) b[i] = (byte) 0xab;
    b[n - 1] = (byte) 0xab;
    synchronized (LEAKED) {
      LEAKED.add(b);
    }
    KEPT.addAndGet(n);
  }

  static void release() {
    synchronized (LEAKED) {
      LEAKED.clear();
      LEAKED.trimToSize();
    }
    KEPT.set(0);
    System.gc();
  }

  static void sleepUntil(long deadlineNanos) throws InterruptedException {
    for (;;) {
      long left = deadlineNanos - System.nanoTime();
      if (left <= 0) return;
      Thread.sleep(left / 1_000_000, (int) (left % 1_000_000));
    }
  }

  // Short-lived objects of mixed sizes, kept in a small ring until overwritten, so the collector
  // has both garbage and some marking to do.
  static void churn(long bytesPerSec) {
    final long tickMillis = 10;
    final long perTick = Math.max(1, bytesPerSec * tickMillis / 1000);
    final int[] sizes = {48, 200, 1 << 10, 4 << 10, 16 << 10, 64 << 10};
    final byte[][] ring = new byte[512][];
    int next = 0;
    int k = 0;
    long due = System.nanoTime();
    try {
      while (leaking) {
        due += tickMillis * 1_000_000;
        sleepUntil(due);
        for (long done = 0; done < perTick; ) {
          int n = sizes[k % sizes.length];
          k++;
          byte[] b = new byte[n];
          b[0] = (byte) k;
          b[n - 1] = (byte) k;
          ring[next] = b;
          next = (next + 1) % ring.length;
          done += n;
        }
        sink = ring[k % ring.length];
      }
    } catch (InterruptedException e) {
      // exiting
    }
  }

  public static void main(String[] args) throws InterruptedException {
    long rate = 50 * MIB;
    long chunk = MIB;
    long max = 0;
    long releaseAfter = 0;
    long periodMillis = 2000;
    long churnRate = 0;
    long prefill = 0;
    boolean hold = false;
    String shape = "steady";
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--hold")) {
        hold = true;
        continue;
      }
      if (a.equals("-h") || a.equals("--help")) usage("leaks memory on purpose");
      if (i + 1 >= args.length) usage(a + " needs a value");
      String v = args[++i];
      switch (a) {
        case "--rate":
          rate = parseSize(v);
          break;
        case "--chunk":
          chunk = parseSize(v);
          break;
        case "--max":
          max = parseSize(v);
          break;
        case "--release-after":
          releaseAfter = parseSize(v);
          break;
        case "--shape":
          shape = v;
          break;
        case "--period":
          periodMillis = parseMillis(v);
          break;
        case "--churn":
          churnRate = parseSize(v);
          break;
        case "--prefill":
          prefill = parseSize(v);
          break;
        default:
          usage("unknown flag " + a);
      }
    }
    if (rate <= 0 || chunk < 4096 || chunk > (1L << 30)) {
      usage("--rate must be > 0 and --chunk between 4KiB and 1GiB");
    }
    if (!shape.equals("steady") && !shape.equals("bursts") && !shape.equals("leak-then-release")) {
      usage("--shape must be steady, bursts or leak-then-release");
    }
    if (shape.equals("leak-then-release") && releaseAfter <= 0) {
      usage("--shape leak-then-release needs --release-after");
    }
    if (periodMillis <= 0) usage("--period must be > 0");
    if (max > 0 && prefill > max) usage("--prefill must not be more than --max");

    final Thread mainThread = Thread.currentThread();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  if (!finished) {
                    log("exit", "cause=signal");
                    mainThread.interrupt();
                  }
                }));

    log(
        "start",
        "pid=" + ProcessHandle.current().pid() + " rate=" + rate + " chunk=" + chunk + " max="
            + max + " hold=" + hold + " release_after=" + releaseAfter + " shape=" + shape
            + " period_ms=" + periodMillis + " churn=" + churnRate + " max_heap="
            + Runtime.getRuntime().maxMemory() + " java=" + System.getProperty("java.version")
            + " prefill=" + prefill);
    if (churnRate > 0) {
      final long c = churnRate;
      Thread t = new Thread(() -> churn(c), "churn");
      t.setDaemon(true);
      t.start();
    }

    try {
      fill(prefill, (int) chunk);
      run(rate, (int) chunk, max, releaseAfter, shape, periodMillis, hold);
    } catch (InterruptedException e) {
      return;  // SIGTERM: the shutdown hook logged it
    } catch (OutOfMemoryError e) {
      LEAKED.clear();  // room to log
      log("oom", "error=" + String.valueOf(e.getMessage()).replace(' ', '_'));
      finished = true;
      System.exit(1);
    }
    finished = true;
    log("exit", "cause=done");
  }

  // Leaks n bytes as fast as it can, in chunk steps (the last one what is left) through grow,
  // without a line per step, then logs "prefilled".
  static void fill(long n, int chunk) throws InterruptedException {
    if (n <= 0) return;
    long start = System.nanoTime();
    for (long done = 0; done < n; ) {
      if (Thread.interrupted()) throw new InterruptedException();
      int step = (int) Math.min(chunk, n - done);
      grow(step);
      done += step;
    }
    log("prefilled", "took_ms=" + (System.nanoTime() - start) / 1_000_000);
  }

  static void run(
      long rate,
      int chunk,
      long max,
      long releaseAfter,
      String shape,
      long periodMillis,
      boolean hold)
      throws InterruptedException {
    final double burst = rate * (periodMillis / 1000.0);  // bytes per burst in the bursts shape
    long phaseStart = System.nanoTime();
    double phaseBytes = 0;  // allocated since phaseStart: the schedule's clock
    for (;;) {
      long k = KEPT.get();
      if (releaseAfter > 0 && k >= releaseAfter) {
        release();
        log("released", "freed=" + k);
        if (!shape.equals("leak-then-release")) {
          stopLeaking(hold);
          return;
        }
        Thread.sleep(periodMillis);
        phaseStart = System.nanoTime();
        phaseBytes = 0;
        continue;
      }
      if (max > 0 && k + chunk > max) {
        stopLeaking(hold);
        return;
      }
      long due;
      if (shape.equals("bursts")) {
        long n = (long) (phaseBytes / burst);
        due = phaseStart + n * periodMillis * 1_000_000;
      } else {
        due = phaseStart + (long) (phaseBytes / rate * 1e9);
      }
      sleepUntil(due);
      grow(chunk);
      phaseBytes += chunk;
      log("alloc", "");
    }
  }

  static void stopLeaking(boolean hold) throws InterruptedException {
    leaking = false;
    log("done", "");
    if (!hold) return;
    log("hold", "");
    for (;;) Thread.sleep(Long.MAX_VALUE);
  }
}
