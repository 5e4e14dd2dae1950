// The floor of the shm:// channel: the same ring as native/shm/shm_ring.h (a sealed memfd,
// [control page][ring 0][ring 1], records [u32 length][u32 reserved][body] padded to 8,
// heads and tails as growing byte counts, one cache line each) and the same wake
// protocol (a sleep word per side, an eventfd per side), with no Node in it. A client
// process and a forked server ping-pong 64 B messages; the client records each round trip.
//   spin:  both sides poll the ring (the floor of poll: "spin")
//   event: a side with nothing to read sets its sleep word, re-checks, and blocks in
//          read(eventfd); a writer that sees the peer's word set writes the peer's eventfd
//          (the floor of poll: "event")
// With "stream" as the fourth argument the server instead writes `iterations` messages
// one way (each copied into the ring from one buffer, as an encoder writes a message's
// bytes field) and the client takes them in place: the floor of a one-way stream.
// Usage: shm_ring_pingpong <spin|event> <iterations> [payload bytes] [stream]
// Prints one JSON line: {"mode","iterations","payload","p50Ns","p99Ns","p999Ns","rttPerSec"},
// for a stream {"mode","workload":"stream","iterations","payload","msgPerSec","bytesPerSec"}.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONTROL 4096
#define LINE 64
#define CAP (8u << 20)  // per direction: the default ringBytes of src/channel/shm-engine.ts
#define PAD 0xFFFFFFFFu

typedef struct {
  _Atomic uint64_t *head, *tail;
  uint8_t* data;
  uint64_t mine;  // our head (writer) or read count (reader)
} ring_t;

static uint8_t* base;
static int wake_fd[2];
static int spin;

static ring_t ring_of(int r) {
  ring_t x = {(_Atomic uint64_t*)(base + LINE * (1 + 2 * r)), (_Atomic uint64_t*)(base + LINE * (2 + 2 * r)),
              base + CONTROL + (size_t)r * CAP, 0};
  return x;
}
static _Atomic uint32_t* sleep_word(int side) { return (_Atomic uint32_t*)(base + LINE * (5 + side)); }
static uint64_t align8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

static void put(ring_t* w, int peer, const uint8_t* body, uint32_t len) {
  uint64_t size = align8(8 + len);
  for (;;) {
    uint64_t tail = atomic_load_explicit(w->tail, memory_order_acquire);
    uint64_t pos = w->mine & (CAP - 1), to_end = CAP - pos;
    uint64_t need = size <= to_end ? size : to_end + size;
    if (w->mine - tail + need <= CAP) {
      if (size > to_end) {
        atomic_store_explicit((_Atomic uint32_t*)(w->data + pos), PAD, memory_order_relaxed);
        w->mine += to_end;
        pos = 0;
      }
      memcpy(w->data + pos + 8, body, len);
      atomic_store_explicit((_Atomic uint32_t*)(w->data + pos), len, memory_order_relaxed);
      w->mine += size;
      break;
    }
  }
  atomic_store_explicit(w->head, w->mine, memory_order_release);
  if (!spin) {
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(sleep_word(peer), memory_order_relaxed)) {
      uint64_t one = 1;
      if (write(wake_fd[peer], &one, 8) < 0) exit(3);
    }
  }
}

// Waits for one record; copies nothing (checks the first byte only, as a reader in place would).
static uint32_t take(ring_t* r, int me) {
  for (;;) {
    uint64_t head = atomic_load_explicit(r->head, memory_order_acquire);
    if (head != r->mine) {
      uint64_t pos = r->mine & (CAP - 1);
      uint32_t len = atomic_load_explicit((_Atomic uint32_t*)(r->data + pos), memory_order_relaxed);
      if (len == PAD) {
        r->mine += CAP - pos;
        continue;
      }
      volatile uint8_t first = r->data[pos + 8];
      (void)first;
      r->mine += align8(8 + len);
      atomic_store_explicit(r->tail, r->mine, memory_order_release);
      return len;
    }
    if (spin) continue;
    atomic_store_explicit(sleep_word(me), 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(r->head, memory_order_acquire) == r->mine) {
      uint64_t n;
      if (read(wake_fd[me], &n, 8) < 0) exit(3);
    }
    atomic_store_explicit(sleep_word(me), 0, memory_order_relaxed);
  }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static int cmp(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <spin|event> <iterations> [payload] [stream]\n", argv[0]);
    return 2;
  }
  spin = strcmp(argv[1], "spin") == 0;
  long iterations = atol(argv[2]);
  uint32_t payload = argc > 3 ? (uint32_t)atoi(argv[3]) : 64;
  int stream = argc > 4 && strcmp(argv[4], "stream") == 0;
  if (payload > 65536) return 2;
  int fd = memfd_create("shm-floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  size_t bytes = CONTROL + 2 * (size_t)CAP;
  if (fd < 0 || ftruncate(fd, (off_t)bytes) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) return 1;
  base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return 1;
  wake_fd[0] = eventfd(0, 0);  // side 0: the server
  wake_fd[1] = eventfd(0, 0);  // side 1: the client
  uint8_t body[65536];
  memset(body, 0x61, sizeof body);
  long warm = iterations / 10;
  if (stream) {
    pid_t writer = fork();
    if (writer == 0) {  // the server: every message into ring 0
      ring_t out = ring_of(0);
      for (long i = 0; i < warm + iterations; i++) put(&out, 1, body, payload);
      _exit(0);
    }
    ring_t in = ring_of(0);
    uint64_t start = 0;
    for (long i = 0; i < warm + iterations; i++) {
      if (i == warm) start = now_ns();
      take(&in, 1);
    }
    double seconds = (double)(now_ns() - start) / 1e9;
    waitpid(writer, NULL, 0);
    printf("{\"mode\":\"%s\",\"workload\":\"stream\",\"iterations\":%ld,\"payload\":%u,\"msgPerSec\":%.0f,\"bytesPerSec\":%.0f}\n",
           argv[1], iterations, payload, (double)iterations / seconds, (double)iterations * payload / seconds);
    return 0;
  }
  pid_t child = fork();
  if (child == 0) {  // the server: ring 1 in, ring 0 out
    ring_t in = ring_of(1), out = ring_of(0);
    for (long i = 0; i < warm + iterations; i++) {
      uint32_t len = take(&in, 0);
      put(&out, 1, body, len);
    }
    _exit(0);
  }
  ring_t out = ring_of(1), in = ring_of(0);
  uint64_t* samples = malloc(sizeof(uint64_t) * (size_t)iterations);
  uint64_t start = 0;
  for (long i = 0; i < warm + iterations; i++) {
    if (i == warm) start = now_ns();
    uint64_t t0 = now_ns();
    put(&out, 0, body, payload);
    take(&in, 1);
    if (i >= warm) samples[i - warm] = now_ns() - t0;
  }
  double seconds = (double)(now_ns() - start) / 1e9;
  waitpid(child, NULL, 0);
  qsort(samples, (size_t)iterations, sizeof(uint64_t), cmp);
  printf("{\"mode\":\"%s\",\"iterations\":%ld,\"payload\":%u,\"p50Ns\":%llu,\"p99Ns\":%llu,\"p999Ns\":%llu,\"rttPerSec\":%.0f}\n",
         argv[1], iterations, payload, (unsigned long long)samples[iterations / 2],
         (unsigned long long)samples[iterations * 99 / 100], (unsigned long long)samples[iterations * 999 / 1000],
         (double)iterations / seconds);
  return 0;
}
