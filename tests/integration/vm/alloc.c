// alloc: grow anonymous memory on purpose, for the VM integration tests and fixture capture.
// Busybox has no way to hold anonymous memory, and tmpfs pages survive an OOM kill, so a real
// "process gets OOM-killed in its cgroup" needs this. Built static so the guest needs no libc:
//   gcc -static -O2 -o alloc alloc.c
//
// usage: alloc MIB [STEP_MIB [HOLD_SECS]]
//   Maps MIB MiB of private anonymous memory, STEP_MIB (default 1) at a time, writing every page
//   so it is really charged to the cgroup, and prints "allocated N MiB" after each step. Then
//   prints "holding" and sleeps HOLD_SECS (default 0; -1 = until killed) and exits 0.
//   Exit 2 on bad usage, 3 if mmap fails. Killed by the OOM killer, it dies of SIGKILL.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// Unbuffered, one write per line: the last line printed before a SIGKILL must not be lost.
static void say(const char* fmt, long value) {
  char line[64];
  int n = snprintf(line, sizeof line, fmt, value);
  if (n > 0) (void)!write(STDOUT_FILENO, line, (size_t)n);
}

static long number(const char* s) {
  char* end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || *s == '\0' || *end != '\0') {
    fprintf(stderr, "alloc: not a number: %s\n", s);
    exit(2);
  }
  return v;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    fprintf(stderr, "usage: alloc MIB [STEP_MIB [HOLD_SECS]]\n");
    return 2;
  }
  const long total = number(argv[1]);
  const long step = argc > 2 ? number(argv[2]) : 1;
  const long hold = argc > 3 ? number(argv[3]) : 0;
  if (total < 0 || step <= 0) {
    fprintf(stderr, "alloc: MIB must be >= 0 and STEP_MIB > 0\n");
    return 2;
  }
  for (long done = 0; done < total;) {
    const long mib = total - done < step ? total - done : step;
    const size_t bytes = (size_t)mib << 20;
    void* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      fprintf(stderr, "alloc: mmap %ld MiB: %s\n", mib, strerror(errno));
      return 3;
    }
    memset(p, 0xa5, bytes);  // non-zero, so nothing can share or skip the pages
    done += mib;
    say("allocated %ld MiB\n", done);
  }
  (void)!write(STDOUT_FILENO, "holding\n", 8);
  if (hold < 0) {
    for (;;) pause();
  }
  sleep((unsigned)hold);
  return 0;
}
