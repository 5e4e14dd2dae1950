// tcp_pingpong: the TCP floor of the RDMA benchmark (bench/rdma-guest.js,
// bench/lib/tcp-floor.js). Two processes, no Node: a client and a forked echo server
// on 127.0.0.1 (TCP_NODELAY both ways), each pinned to its own CPU, do 64 B ping-pongs.
// Owns: the socket pair, the timing of every round trip, the percentiles.
//
//   tcp_pingpong MODE ITERATIONS WARMUP CLIENT_CPU SERVER_CPU     (a CPU of -1: unpinned)
//   MODE block  blocking recv on both sides: every reply wakes a sleeping receiver,
//               the floor of our event mode
//   MODE spin   non-blocking recv busy-polled on both sides: no sleep, no wakeup,
//               the floor of our spin mode (and what perftest does on RDMA)
//
// Prints one JSON line on stdout: {"mode", "bytes", "iterations", "minUs", "p50Us",
// "p99Us", "maxUs", "rttPerSec"}; errors go to stderr with exit code 1.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MESSAGE_BYTES = 64 };

static void fail(const char *what) {
  fprintf(stderr, "tcp_pingpong: %s: %s\n", what, strerror(errno));
  exit(1);
}

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin_to(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) fail("sched_setaffinity");
}

static void set_nodelay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) fail("TCP_NODELAY");
}

static void send_message(int fd, const char *buf) {
  size_t sent = 0;
  while (sent < MESSAGE_BYTES) {
    ssize_t n = send(fd, buf + sent, MESSAGE_BYTES - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("send");
    sent += (size_t)n;
  }
}

// Reads one whole message; with `spin` the recv never sleeps (EAGAIN: ask again).
// Returns 0, or -1 when the peer closed before a message started.
static int recv_message(int fd, char *buf, int spin) {
  size_t got = 0;
  while (got < MESSAGE_BYTES) {
    ssize_t n = recv(fd, buf + got, MESSAGE_BYTES - got, spin ? MSG_DONTWAIT : 0);
    if (n < 0 && (errno == EINTR || (spin && errno == EAGAIN))) continue;
    if (n == 0 && got == 0) return -1;
    if (n <= 0) fail("recv");
    got += (size_t)n;
  }
  return 0;
}

// The forked child: accept one connection, echo every message until the client closes.
static void serve(int listener, int cpu, int spin) {
  pin_to(cpu);
  int fd = accept(listener, NULL, NULL);
  if (fd < 0) fail("accept");
  close(listener);
  set_nodelay(fd);
  char buf[MESSAGE_BYTES];
  while (recv_message(fd, buf, spin) == 0) send_message(fd, buf);
  close(fd);
  exit(0);
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

// Nearest-rank percentile of sorted samples, in µs.
static double percentile_us(const uint64_t *sorted, long n, double p) {
  long rank = (long)(p * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  return (double)sorted[rank - 1] / 1000.0;
}

static long parse_long(const char *text, const char *name, long min) {
  char *end;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno || *end || value < min) {
    fprintf(stderr, "tcp_pingpong: %s must be an integer >= %ld, got %s\n", name, min, text);
    exit(2);
  }
  return value;
}

int main(int argc, char **argv) {
  if (argc != 6 || (strcmp(argv[1], "block") != 0 && strcmp(argv[1], "spin") != 0)) {
    fprintf(stderr, "usage: tcp_pingpong block|spin ITERATIONS WARMUP CLIENT_CPU SERVER_CPU\n");
    return 2;
  }
  int spin = strcmp(argv[1], "spin") == 0;
  long iterations = parse_long(argv[2], "ITERATIONS", 1);
  long warmup = parse_long(argv[3], "WARMUP", 0);
  int client_cpu = (int)parse_long(argv[4], "CLIENT_CPU", -1);
  int server_cpu = (int)parse_long(argv[5], "SERVER_CPU", -1);

  // Listen before forking, so the client's connect cannot race the server's start.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) fail("socket");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t addr_len = sizeof addr;
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0) fail("bind");
  if (listen(listener, 1) != 0) fail("listen");
  if (getsockname(listener, (struct sockaddr *)&addr, &addr_len) != 0) fail("getsockname");

  pid_t server = fork();
  if (server < 0) fail("fork");
  if (server == 0) serve(listener, server_cpu, spin);
  close(listener);

  pin_to(client_cpu);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("socket");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) fail("connect");
  set_nodelay(fd);

  uint64_t *samples = malloc((size_t)iterations * sizeof *samples);
  if (!samples) fail("malloc");
  char out[MESSAGE_BYTES] = {0}, in[MESSAGE_BYTES];
  uint64_t measured_from = 0;
  for (long i = -warmup; i < iterations; i++) {
    if (i == 0) measured_from = monotonic_ns();
    memcpy(out, &i, sizeof i);  // a sequence number, checked in the echo
    uint64_t start = monotonic_ns();
    send_message(fd, out);
    if (recv_message(fd, in, spin) != 0) {
      fprintf(stderr, "tcp_pingpong: the server closed the connection\n");
      return 1;
    }
    uint64_t end = monotonic_ns();
    if (memcmp(in, out, MESSAGE_BYTES) != 0) {
      fprintf(stderr, "tcp_pingpong: echo %ld does not match\n", i);
      return 1;
    }
    if (i >= 0) samples[i] = end - start;
  }
  double elapsed_s = (double)(monotonic_ns() - measured_from) / 1e9;
  close(fd);
  int status;
  if (waitpid(server, &status, 0) < 0) fail("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "tcp_pingpong: the server exited abnormally\n");
    return 1;
  }

  qsort(samples, (size_t)iterations, sizeof *samples, compare_u64);
  printf("{\"mode\":\"%s\",\"bytes\":%d,\"iterations\":%ld,\"minUs\":%.3f,\"p50Us\":%.3f,"
         "\"p99Us\":%.3f,\"maxUs\":%.3f,\"rttPerSec\":%.0f}\n",
         argv[1], MESSAGE_BYTES, iterations, (double)samples[0] / 1000.0, percentile_us(samples, iterations, 0.50),
         percentile_us(samples, iterations, 0.99), (double)samples[iterations - 1] / 1000.0,
         (double)iterations / elapsed_s);
  free(samples);
  return 0;
}
