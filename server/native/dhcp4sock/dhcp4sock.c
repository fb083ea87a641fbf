/*
 * The DHCPv4 server's sockets on one interface, as a small N-API addon.
 *
 * Why native: Node's dgram reads one datagram per recvmsg() (plus an
 * EAGAIN per wakeup) and writes one per sendmsg(), and its send queue is
 * unbounded: when the socket's send buffer is full, every later reply
 * waits behind it, with no way to drop the ones that have gone stale.
 * This file owns the UDP socket instead — recvmmsg() in batches, with the
 * kernel's arrival time of each datagram (SO_TIMESTAMPNS), so requests
 * that waited too long in the receive queue can be told apart; sendmmsg()
 * in batches with MSG_DONTWAIT, reporting how far it got, so the caller
 * keeps its own bounded queue — and a send-only AF_PACKET socket for
 * replies unicast to a client's ciaddr (RFC 2131 §4.1): addressed to the
 * client's hardware address they need no ARP, so a forged ciaddr nobody
 * owns cannot park them in the neighbour queue, where they would fill the
 * UDP socket's send buffer and hold up every other reply.
 *
 * JavaScript surface (wrapped by server/net/native-dhcp4-transport.ts):
 *
 *   open(ifindex, port, receiveBufferBytes, meta: Uint32Array,
 *        onBatch, onWritable, onError) -> handle
 *     onBatch(data: Buffer, count)  `count` datagrams back to back in
 *       `data`; meta[i*5 .. i*5+4] = offset, length, source address
 *       (host order), source port, microseconds since the kernel
 *       received it (capped at 2^32-1). `meta` is reused by every batch.
 *     onWritable()  the send buffer has room again after a send stopped
 *       at EAGAIN.
 *     onError(err)  a receive failed; err.code is the errno name.
 *   handle.sendBatch(data: Buffer, meta: Uint32Array, count) -> consumed
 *     meta[i*5 ..] = offset, length, destination (host order), port,
 *     errno out. Sends in order with MSG_DONTWAIT; a datagram that fails
 *     with another error than EAGAIN gets its errno written and is skipped.
 *     Returns how many were consumed (sent or failed); the rest met a full
 *     send buffer, and onWritable fires when there is room.
 *   handle.sendFrames(data: Buffer, meta: Uint32Array, count) -> consumed
 *     meta[i*5 ..] = offset, length, MAC bytes 0-3, MAC bytes 4-5, errno
 *     out. Each is a complete IPv4 packet, sent over AF_PACKET to that MAC
 *     (ETH_P_IP); the kernel adds the Ethernet header. Same return value;
 *     nothing waits for room: a full buffer drops the rest (EAGAIN).
 *   handle.close()  idempotent.
 *
 * Linux only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "napi-helpers.h"

/* Datagrams per recvmmsg()/sendmmsg() call. */
#define BATCH 64
/* Batches per wakeup at most, so other sockets and timers get their turn. */
#define MAX_BATCHES_PER_WAKEUP 4
/* A DHCP message fits one Ethernet frame; RFC 2131 §2 requires 576 to work. */
#define SLOT_BYTES 1536
#define META_WORDS 5

typedef struct {
  napi_env env;
  int fd;
  int packet_fd;
  unsigned int ifindex;
  uv_poll_t *poll;
  int poll_events;
  napi_ref self, on_batch, on_writable, on_error, meta_ref;
  napi_async_context async;
  int cleanup_hook_added;
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  struct sockaddr_in from[BATCH];
  union {
    struct cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(struct timespec))];
  } control[BATCH];
  unsigned char buffer[BATCH * SLOT_BYTES];
} Dhcp4Sock;

typedef struct {
  napi_ref constructor;
} AddonData;

static Dhcp4Sock *unwrap(napi_env env, napi_value self) {
  void *state = NULL;
  if (napi_unwrap(env, self, &state) != napi_ok) return NULL;
  return state;
}

static void close_descriptors(Dhcp4Sock *s) {
  if (s->poll != NULL) {
    uv_poll_stop(s->poll);
    uv_close((uv_handle_t *)s->poll, free_uv_handle);
    s->poll = NULL;
  }
  if (s->fd >= 0) close(s->fd);
  if (s->packet_fd >= 0) close(s->packet_fd);
  s->fd = s->packet_fd = -1;
}

static void cleanup_hook(void *arg) {
  close_descriptors(arg);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Dhcp4Sock *s = data;
  if (s->cleanup_hook_added) napi_remove_env_cleanup_hook(env, cleanup_hook, s);
  close_descriptors(s);
  if (s->async != NULL) napi_async_destroy(env, s->async);
  free(s);
}

static void report_error(Dhcp4Sock *s, int err, const char *syscall) {
  napi_value error = errno_error(s->env, err, syscall);
  call_js(s->env, s->async, s->on_error, 1, &error);
}

static int set_poll(Dhcp4Sock *s, int events);

/* ---- receiving ---------------------------------------------------------- */

static uint32_t age_micros(struct msghdr *msg, const struct timespec *now) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS || c->cmsg_len < CMSG_LEN(sizeof(struct timespec))) continue;
    struct timespec at;
    memcpy(&at, CMSG_DATA(c), sizeof at);
    double micros = (double)(now->tv_sec - at.tv_sec) * 1e6 + (double)(now->tv_nsec - at.tv_nsec) / 1e3;
    if (micros <= 0) return 0;
    return micros >= 4294967295.0 ? UINT32_MAX : (uint32_t)micros;
  }
  return 0;
}

static void drain(Dhcp4Sock *s) {
  napi_env env = s->env;
  for (int round = 0; round < MAX_BATCHES_PER_WAKEUP && s->fd >= 0; round++) {
    for (int i = 0; i < BATCH; i++) {
      s->iovs[i].iov_base = s->buffer + i * SLOT_BYTES;
      s->iovs[i].iov_len = SLOT_BYTES;
      memset(&s->msgs[i].msg_hdr, 0, sizeof s->msgs[i].msg_hdr);
      s->msgs[i].msg_hdr.msg_iov = &s->iovs[i];
      s->msgs[i].msg_hdr.msg_iovlen = 1;
      s->msgs[i].msg_hdr.msg_name = &s->from[i];
      s->msgs[i].msg_hdr.msg_namelen = sizeof s->from[i];
      s->msgs[i].msg_hdr.msg_control = s->control[i].bytes;
      s->msgs[i].msg_hdr.msg_controllen = sizeof s->control[i].bytes;
    }
    int n = recvmmsg(s->fd, s->msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) report_error(s, errno, "recvmmsg");
      return;
    }
    if (n == 0) return;
    /*
     * SO_TIMESTAMPNS stamps with CLOCK_REALTIME: a clock step between the
     * arrival and now misjudges only the datagrams queued across it (a step
     * back reads as age 0, a step forward drops them as stale once).
     */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);

    napi_value meta_value, argv[2];
    void *meta_data;
    size_t meta_length;
    napi_typedarray_type meta_type;
    if (napi_get_reference_value(env, s->meta_ref, &meta_value) != napi_ok ||
        napi_get_typedarray_info(env, meta_value, &meta_type, &meta_length, &meta_data, NULL, NULL) != napi_ok ||
        meta_type != napi_uint32_array || meta_length < (size_t)BATCH * META_WORDS) {
      return;
    }
    uint32_t *meta = meta_data;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += s->msgs[i].msg_len;
    void *data;
    /* One Buffer per batch, not per datagram: requests keep slices of it while they wait for a commit. */
    if (napi_create_buffer(env, total > 0 ? total : 1, &data, &argv[0]) != napi_ok) return;
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
      unsigned int length = s->msgs[i].msg_len;
      memcpy((char *)data + offset, s->buffer + i * SLOT_BYTES, length);
      uint32_t *m = meta + i * META_WORDS;
      m[0] = (uint32_t)offset;
      m[1] = length;
      m[2] = ntohl(s->from[i].sin_addr.s_addr);
      m[3] = ntohs(s->from[i].sin_port);
      m[4] = age_micros(&s->msgs[i].msg_hdr, &now);
      offset += length;
    }
    napi_create_int32(env, n, &argv[1]);
    call_js(env, s->async, s->on_batch, 2, argv);
    if (n < BATCH) return;
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  Dhcp4Sock *s = handle->data;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  if (status < 0) {
    report_error(s, -status, "poll");
  } else {
    if (events & UV_WRITABLE) {
      /* Room again: stop watching before JS sends, which may re-arm. */
      set_poll(s, UV_READABLE);
      call_js(s->env, s->async, s->on_writable, 0, NULL);
    }
    if ((events & UV_READABLE) && s->fd >= 0) drain(s);
  }
  napi_close_handle_scope(s->env, scope);
}

static int set_poll(Dhcp4Sock *s, int events) {
  if (s->poll == NULL || s->poll_events == events) return 0;
  s->poll_events = events;
  return uv_poll_start(s->poll, events, on_poll);
}

/* ---- sending ------------------------------------------------------------ */

typedef struct {
  unsigned char *data;
  size_t data_length;
  uint32_t *meta;
  uint32_t count;
} Batch;

static napi_value read_batch(napi_env env, napi_callback_info info, Dhcp4Sock **s, Batch *b, const char *usage) {
  size_t argc = 3;
  napi_value argv[3], self;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  *s = unwrap(env, self);
  if (*s == NULL) return throw_type(env, "called on something that is not a DHCPv4 socket");
  bool is_buffer = false;
  napi_typedarray_type type;
  size_t meta_length = 0;
  void *meta;
  if (argc < 3 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_typedarray_info(env, argv[1], &type, &meta_length, &meta, NULL, NULL) != napi_ok || type != napi_uint32_array ||
      napi_get_value_uint32(env, argv[2], &b->count) != napi_ok || (size_t)b->count * META_WORDS > meta_length) {
    return throw_type(env, usage);
  }
  napi_get_buffer_info(env, argv[0], (void **)&b->data, &b->data_length);
  b->meta = meta;
  for (uint32_t i = 0; i < b->count; i++) {
    uint32_t *m = b->meta + i * META_WORDS;
    if ((size_t)m[0] + m[1] > b->data_length) return throw_type(env, "a datagram lies outside the data buffer");
  }
  return self;
}

/* Where one datagram goes: a sockaddr_in from (address, port), or a sockaddr_ll from the MAC words. */
typedef void (*FillAddress)(struct msghdr *hdr, const uint32_t *m, void *storage, unsigned int ifindex);

static void fill_udp(struct msghdr *hdr, const uint32_t *m, void *storage, unsigned int ifindex) {
  (void)ifindex;
  struct sockaddr_in *to = storage;
  memset(to, 0, sizeof *to);
  to->sin_family = AF_INET;
  to->sin_addr.s_addr = htonl(m[2]);
  to->sin_port = htons((uint16_t)m[3]);
  hdr->msg_name = to;
  hdr->msg_namelen = sizeof *to;
}

static void fill_link(struct msghdr *hdr, const uint32_t *m, void *storage, unsigned int ifindex) {
  struct sockaddr_ll *to = storage;
  memset(to, 0, sizeof *to);
  to->sll_family = AF_PACKET;
  to->sll_protocol = htons(ETH_P_IP);
  to->sll_ifindex = (int)ifindex;
  to->sll_halen = 6;
  to->sll_addr[0] = (unsigned char)(m[2] >> 24);
  to->sll_addr[1] = (unsigned char)(m[2] >> 16);
  to->sll_addr[2] = (unsigned char)(m[2] >> 8);
  to->sll_addr[3] = (unsigned char)m[2];
  to->sll_addr[4] = (unsigned char)(m[3] >> 8);
  to->sll_addr[5] = (unsigned char)m[3];
  hdr->msg_name = to;
  hdr->msg_namelen = sizeof *to;
}

/*
 * Sends the batch's datagrams in order with sendmmsg; returns how many were
 * consumed (sent, or failed with their errno in meta word 4). Stops early,
 * with *blocked set, when the socket's send buffer is full (EAGAIN).
 */
static uint32_t send_all(int fd, Batch *b, FillAddress fill, unsigned int ifindex, bool *blocked) {
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  union {
    struct sockaddr_in in;
    struct sockaddr_ll ll;
  } to[BATCH];
  uint32_t done = 0;
  *blocked = false;
  while (done < b->count) {
    uint32_t k = b->count - done > BATCH ? BATCH : b->count - done;
    for (uint32_t i = 0; i < k; i++) {
      uint32_t *m = b->meta + (done + i) * META_WORDS;
      m[4] = 0;
      iovs[i].iov_base = b->data + m[0];
      iovs[i].iov_len = m[1];
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      fill(&msgs[i].msg_hdr, m, &to[i], ifindex);
    }
    int n = sendmmsg(fd, msgs, k, MSG_DONTWAIT);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        *blocked = true;
        break;
      }
      /* sendmmsg reports an error only for the first datagram: skip that one. */
      b->meta[done * META_WORDS + 4] = (uint32_t)err;
      done++;
      continue;
    }
    done += (uint32_t)n;
  }
  return done;
}

/* sendBatch over the UDP socket (waits for room: onWritable), or sendFrames over AF_PACKET (never waits). */
static napi_value send_any(napi_env env, napi_callback_info info, bool frames) {
  Dhcp4Sock *s;
  Batch b;
  const char *usage = frames ? "sendFrames(data: Buffer, meta: Uint32Array, count: number)" : "sendBatch(data: Buffer, meta: Uint32Array, count: number)";
  if (read_batch(env, info, &s, &b, usage) == NULL) return NULL;
  int fd = frames ? s->packet_fd : s->fd;
  if (fd < 0) return throw_errno(env, EBADF, "sendmmsg");
  bool blocked;
  uint32_t done = send_all(fd, &b, frames ? fill_link : fill_udp, s->ifindex, &blocked);
  if (blocked && !frames) set_poll(s, UV_READABLE | UV_WRITABLE);
  napi_value result;
  napi_create_uint32(env, done, &result);
  return result;
}

static napi_value SendBatch(napi_env env, napi_callback_info info) {
  return send_any(env, info, false);
}

static napi_value SendFrames(napi_env env, napi_callback_info info) {
  return send_any(env, info, true);
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value self;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  Dhcp4Sock *s = unwrap(env, self);
  if (s == NULL) return throw_type(env, "close() called on something that is not a DHCPv4 socket");
  if (s->cleanup_hook_added) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, s);
    s->cleanup_hook_added = 0;
  }
  close_descriptors(s);
  delete_ref(env, &s->on_batch);
  delete_ref(env, &s->on_writable);
  delete_ref(env, &s->on_error);
  delete_ref(env, &s->meta_ref);
  delete_ref(env, &s->self);
  return NULL;
}

/* ---- open ------------------------------------------------------------------ */

static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  AddonData *addon;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&addon);
  const char *usage = "open(ifindex: number, port: number, receiveBufferBytes: number, meta: Uint32Array, onBatch, onWritable, onError)";
  if (argc < 7) return throw_type(env, usage);
  uint32_t ifindex = 0, port = 0, receive_buffer = 0;
  if (napi_get_value_uint32(env, argv[0], &ifindex) != napi_ok || ifindex == 0 ||
      napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535 ||
      napi_get_value_uint32(env, argv[2], &receive_buffer) != napi_ok) {
    return throw_type(env, usage);
  }
  napi_typedarray_type meta_type;
  size_t meta_length = 0;
  if (napi_get_typedarray_info(env, argv[3], &meta_type, &meta_length, NULL, NULL, NULL) != napi_ok ||
      meta_type != napi_uint32_array || meta_length < (size_t)BATCH * META_WORDS) {
    return throw_type(env, "meta must be a Uint32Array of at least 320 words");
  }
  for (int i = 4; i < 7; i++) {
    napi_valuetype type;
    napi_typeof(env, argv[i], &type);
    if (type != napi_function) return throw_type(env, usage);
  }

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  /* Every served interface has its own socket on the same port. */
  CHECK_SETSOCKOPT(set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1), "SO_REUSEADDR");
  CHECK_SETSOCKOPT(set_int_option(fd, SOL_SOCKET, SO_BROADCAST, 1), "SO_BROADCAST");
  CHECK_SETSOCKOPT(bind_to_interface(fd, ifindex), "SO_BINDTOIFINDEX");
  CHECK_SETSOCKOPT(set_int_option(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1), "SO_TIMESTAMPNS");
  if (receive_buffer > 0 && set_int_option(fd, SOL_SOCKET, SO_RCVBUFFORCE, (int)receive_buffer) != 0) {
    /* Without CAP_NET_ADMIN: as much as net.core.rmem_max allows. */
    CHECK_SETSOCKOPT(set_int_option(fd, SOL_SOCKET, SO_RCVBUF, (int)receive_buffer), "SO_RCVBUF");
  }
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }
  /* Protocol 0: this packet socket receives nothing; it only sends. */
  int packet_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (packet_fd < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "socket AF_PACKET");
  }

  Dhcp4Sock *s = calloc(1, sizeof *s);
  uv_poll_t *poll = malloc(sizeof *poll);
  uv_loop_t *loop = NULL;
  int failed = s == NULL || poll == NULL ? ENOMEM : 0;
  if (failed == 0 && (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, poll, fd) != 0)) failed = EINVAL;
  if (failed != 0) {
    free(s);
    free(poll);
    close(fd);
    close(packet_fd);
    return throw_errno(env, failed, failed == ENOMEM ? "open" : "uv_poll_init");
  }
  s->env = env;
  s->fd = fd;
  s->packet_fd = packet_fd;
  s->ifindex = ifindex;
  poll->data = s;
  s->poll = poll;

  napi_value constructor, self, resource_name;
  napi_get_reference_value(env, addon->constructor, &constructor);
  napi_new_instance(env, constructor, 0, NULL, &self);
  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    close_descriptors(s);
    free(s);
    return NULL;
  }
  napi_create_reference(env, self, 1, &s->self);
  napi_create_reference(env, argv[3], 1, &s->meta_ref);
  napi_create_reference(env, argv[4], 1, &s->on_batch);
  napi_create_reference(env, argv[5], 1, &s->on_writable);
  napi_create_reference(env, argv[6], 1, &s->on_error);
  napi_create_string_utf8(env, "leasehold:dhcp4sock", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, self, resource_name, &s->async);
  napi_add_env_cleanup_hook(env, cleanup_hook, s);
  s->cleanup_hook_added = 1;

  if (set_poll(s, UV_READABLE) != 0) {
    napi_value closer;
    napi_get_named_property(env, self, "close", &closer);
    napi_call_function(env, self, closer, 0, NULL, NULL);
    return throw_errno(env, EINVAL, "uv_poll_start");
  }
  return self;
}

/* ---- module ---------------------------------------------------------------- */

static void free_addon(napi_env env, void *data, void *hint) {
  (void)hint;
  AddonData *addon = data;
  napi_delete_reference(env, addon->constructor);
  free(addon);
}

NAPI_MODULE_INIT() {
  AddonData *addon = calloc(1, sizeof *addon);
  if (addon == NULL) return NULL;
  napi_property_descriptor methods[] = {
      {"sendBatch", NULL, SendBatch, NULL, NULL, NULL, napi_default, NULL},
      {"sendFrames", NULL, SendFrames, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value constructor, open, batch;
  napi_define_class(env, "Dhcp4Socket", NAPI_AUTO_LENGTH, construct_self, NULL, 3, methods, &constructor);
  napi_create_reference(env, constructor, 1, &addon->constructor);
  napi_set_instance_data(env, addon, free_addon, NULL);
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, Open, addon, &open);
  napi_set_named_property(env, exports, "open", open);
  napi_create_uint32(env, BATCH, &batch);
  napi_set_named_property(env, exports, "batch", batch);
  return exports;
}
