/*
 * The raw ICMPv6 socket of Leasehold's RA sender, as a small N-API addon.
 *
 * Why native: RFC 4861 §6.1.1 (and §6.1.2 for RAs) wants a router to drop
 * a Neighbor Discovery message whose IPv6 Hop Limit is not 255. An IPv6
 * raw socket never hands over the IPv6 header (RFC 3542 §3), so the hop
 * limit only arrives as ancillary data (IPV6_RECVHOPLIMIT), through
 * recvmsg(). Node has no raw sockets and no recvmsg; the npm `raw-socket`
 * package reads with recvfrom(). This file owns the whole socket instead:
 * open with every option set, a libuv poll on the loop, recvmsg with the
 * hop limit and the arrival interface, sendmsg with an optional source
 * address (IPV6_PKTINFO, RFC 3542 §6.1), close.
 *
 * JavaScript surface (wrapped by server/net/icmpv6-socket.ts, the only
 * user):
 *
 *   open(ifindex, receiveTypes, joinGroups, onMessage, onError) -> handle
 *     onMessage(data: Buffer, source: string, hopLimit: number, ifindex: number)
 *       hopLimit is -1 when the kernel gave none (never seen on Linux).
 *     onError(err: Error)  a receive failed; err.code is the errno name.
 *   handle.send(data: Buffer, destination: string, source?: string) -> bytes
 *     destination and source are plain IPv6 text without a zone: the
 *     socket's interface is the zone. Throws an Error with code/syscall.
 *   handle.close()  idempotent.
 *
 * Errors of socket() and setsockopt() are thrown with `code` (ENODEV,
 * EPERM...) and `syscall` naming the option that failed.
 *
 * Linux only (SO_BINDTOIFINDEX, falling back to SO_BINDTODEVICE on kernels
 * before 5.0).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "napi-helpers.h"

/* The largest IPv6 payload without a jumbogram: no ICMPv6 message is longer. */
#define RECEIVE_BUFFER_BYTES 65536
/* Messages read per readiness event; the poll is level-triggered, so more come next turn. */
#define MAX_READS_PER_WAKEUP 64
#define MAX_GROUPS 8

typedef struct {
  napi_env env;
  int fd;
  unsigned int ifindex;
  /* Freed by libuv's close callback; NULL once closed. */
  uv_poll_t *poll;
  /* Strong while open: the object must outlive the poll that calls back into it. */
  napi_ref self;
  napi_ref on_message;
  napi_ref on_error;
  napi_async_context async;
  int cleanup_hook_added;
  unsigned char buffer[RECEIVE_BUFFER_BYTES];
} Icmpv6;

typedef struct {
  napi_ref constructor;
} AddonData;

/* ---- helpers ---------------------------------------------------------- */

/* Parses plain IPv6 text (no zone) from a JS string; 0 on success. */
static int read_address(napi_env env, napi_value value, struct in6_addr *out) {
  char text[INET6_ADDRSTRLEN + 1];
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, text, sizeof text, &length) != napi_ok) return -1;
  if (length >= INET6_ADDRSTRLEN) return -1;
  return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

static Icmpv6 *unwrap(napi_env env, napi_value self) {
  void *state = NULL;
  if (napi_unwrap(env, self, &state) != napi_ok) return NULL;
  return state;
}

/* Stops polling and closes the descriptor (which also leaves the groups). No JS calls. */
static void close_descriptor(Icmpv6 *s) {
  if (s->poll != NULL) {
    uv_poll_stop(s->poll);
    uv_close((uv_handle_t *)s->poll, free_uv_handle);
    s->poll = NULL;
  }
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
}

/* The environment is going away (process exit, worker end) with the socket open. */
static void cleanup_hook(void *arg) {
  Icmpv6 *s = arg;
  s->cleanup_hook_added = 0;
  close_descriptor(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  Icmpv6 *s = data;
  if (s->cleanup_hook_added) napi_remove_env_cleanup_hook(env, cleanup_hook, s);
  close_descriptor(s);
  if (s->async != NULL) napi_async_destroy(env, s->async);
  free(s);
}

/* ---- receiving ---------------------------------------------------------- */

static void report_error(Icmpv6 *s, int err, const char *syscall) {
  napi_value error = errno_error(s->env, err, syscall);
  call_js(s->env, s->async, s->on_error, 1, &error);
}

static void drain(Icmpv6 *s) {
  napi_env env = s->env;
  for (int i = 0; i < MAX_READS_PER_WAKEUP && s->fd >= 0; i++) {
    struct sockaddr_in6 from;
    union {
      struct cmsghdr align;
      char bytes[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
    } control;
    struct iovec iov = {.iov_base = s->buffer, .iov_len = sizeof s->buffer};
    struct msghdr msg = {
        .msg_name = &from,
        .msg_namelen = sizeof from,
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.bytes,
        .msg_controllen = sizeof control.bytes,
    };
    ssize_t n = recvmsg(s->fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) report_error(s, errno, "recvmsg");
      return;
    }
    int hop_limit = -1;
    unsigned int arrived_on = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        memcpy(&hop_limit, CMSG_DATA(c), sizeof hop_limit);
      } else if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
        struct in6_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        arrived_on = info.ipi6_ifindex;
      }
    }
    char source[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, &from.sin6_addr, source, sizeof source) == NULL) continue;

    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value argv[4];
    void *copy;
    napi_create_buffer_copy(env, (size_t)n, s->buffer, &copy, &argv[0]);
    napi_create_string_utf8(env, source, NAPI_AUTO_LENGTH, &argv[1]);
    napi_create_int32(env, hop_limit, &argv[2]);
    napi_create_uint32(env, arrived_on, &argv[3]);
    call_js(env, s->async, s->on_message, 4, argv);
    napi_close_handle_scope(env, scope);
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  Icmpv6 *s = handle->data;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  if (status < 0) {
    /* libuv reports -errno on Unix. */
    report_error(s, -status, "poll");
  } else if (events & UV_READABLE) {
    drain(s);
  }
  napi_close_handle_scope(s->env, scope);
}

/* ---- handle methods ------------------------------------------------------ */

static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  Icmpv6 *s = unwrap(env, self);
  if (s == NULL) return throw_type(env, "send() called on something that is not an ICMPv6 socket");
  if (s->fd < 0) return throw_errno(env, EBADF, "sendmsg");

  bool is_buffer = false;
  if (argc < 2 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer) {
    return throw_type(env, "send(data: Buffer, destination: string, source?: string)");
  }
  void *data;
  size_t length;
  napi_get_buffer_info(env, argv[0], &data, &length);

  struct sockaddr_in6 to;
  memset(&to, 0, sizeof to);
  to.sin6_family = AF_INET6;
  /* The zone of a link-local or link-scoped multicast destination; ignored for others. */
  to.sin6_scope_id = s->ifindex;
  if (read_address(env, argv[1], &to.sin6_addr) != 0) return throw_type(env, "destination must be IPv6 text without a zone");

  /* RFC 3542 §6.1: the source address and outgoing interface of this one packet. */
  struct in6_pktinfo pktinfo;
  memset(&pktinfo, 0, sizeof pktinfo);
  pktinfo.ipi6_ifindex = s->ifindex;
  napi_valuetype source_type = napi_undefined;
  if (argc >= 3) napi_typeof(env, argv[2], &source_type);
  if (source_type != napi_undefined && read_address(env, argv[2], &pktinfo.ipi6_addr) != 0) {
    return throw_type(env, "source must be IPv6 text without a zone, or undefined");
  }

  union {
    struct cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(struct in6_pktinfo))];
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = data, .iov_len = length};
  struct msghdr msg = {
      .msg_name = &to,
      .msg_namelen = sizeof to,
      .msg_iov = &iov,
      .msg_iovlen = 1,
      .msg_control = control.bytes,
      .msg_controllen = sizeof control.bytes,
  };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof pktinfo);
  memcpy(CMSG_DATA(c), &pktinfo, sizeof pktinfo);

  ssize_t n;
  do {
    n = sendmsg(s->fd, &msg, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "sendmsg");
  napi_value result;
  napi_create_int64(env, n, &result);
  return result;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value self;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  Icmpv6 *s = unwrap(env, self);
  if (s == NULL) return throw_type(env, "close() called on something that is not an ICMPv6 socket");
  if (s->cleanup_hook_added) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, s);
    s->cleanup_hook_added = 0;
  }
  close_descriptor(s);
  /* Safe inside onMessage: the running function is held by the caller's scope. */
  delete_ref(env, &s->on_message);
  delete_ref(env, &s->on_error);
  delete_ref(env, &s->self);
  return NULL;
}

/* ---- open ------------------------------------------------------------------ */

static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  AddonData *addon;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&addon);
  const char *usage = "open(ifindex: number, receiveTypes: number[], joinGroups: string[], onMessage: Function, onError: Function)";
  if (argc < 5) return throw_type(env, usage);

  uint32_t ifindex = 0;
  if (napi_get_value_uint32(env, argv[0], &ifindex) != napi_ok || ifindex == 0) return throw_type(env, usage);

  struct icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  bool is_array = false;
  uint32_t count = 0;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) return throw_type(env, usage);
  napi_get_array_length(env, argv[1], &count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    uint32_t type;
    napi_get_element(env, argv[1], i, &element);
    if (napi_get_value_uint32(env, element, &type) != napi_ok || type > 255) return throw_type(env, "receiveTypes must be ICMPv6 types 0-255");
    ICMP6_FILTER_SETPASS(type, &filter);
  }

  struct in6_addr groups[MAX_GROUPS];
  uint32_t group_count = 0;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array) return throw_type(env, usage);
  napi_get_array_length(env, argv[2], &group_count);
  if (group_count > MAX_GROUPS) return throw_type(env, "too many joinGroups");
  for (uint32_t i = 0; i < group_count; i++) {
    napi_value element;
    napi_get_element(env, argv[2], i, &element);
    if (read_address(env, element, &groups[i]) != 0 || !IN6_IS_ADDR_MULTICAST(&groups[i])) {
      return throw_type(env, "joinGroups must be IPv6 multicast addresses");
    }
  }
  for (int i = 3; i < 5; i++) {
    napi_valuetype type;
    napi_typeof(env, argv[i], &type);
    if (type != napi_function) return throw_type(env, usage);
  }

  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) return throw_errno(env, errno, "socket");

  /* Only what arrives on this link is read, and everything sent leaves by it. */
  CHECK_SETSOCKOPT(bind_to_interface(fd, ifindex), "SO_BINDTOIFINDEX");
  /* RFC 3542 §3.2: the kernel drops every other ICMPv6 type for us. */
  CHECK_SETSOCKOPT(setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter), "ICMP6_FILTER");
  /* RFC 3542 §6: the received hop limit (RFC 4861 §6.1.1/§6.1.2) and arrival interface. */
  CHECK_SETSOCKOPT(set_int_option(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1), "IPV6_RECVHOPLIMIT");
  CHECK_SETSOCKOPT(set_int_option(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1), "IPV6_RECVPKTINFO");
  /* RFC 4861 §6.1.2: hosts drop ND messages whose hop limit is not 255. */
  CHECK_SETSOCKOPT(set_int_option(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255), "IPV6_UNICAST_HOPS");
  CHECK_SETSOCKOPT(set_int_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255), "IPV6_MULTICAST_HOPS");
  CHECK_SETSOCKOPT(set_int_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)ifindex), "IPV6_MULTICAST_IF");
  /* Our own multicast RAs are not looped back to us (nor to other sockets of this host). */
  CHECK_SETSOCKOPT(set_int_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0), "IPV6_MULTICAST_LOOP");
  for (uint32_t i = 0; i < group_count; i++) {
    struct ipv6_mreq mreq = {.ipv6mr_multiaddr = groups[i], .ipv6mr_interface = ifindex};
    CHECK_SETSOCKOPT(setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mreq, sizeof mreq), "IPV6_ADD_MEMBERSHIP");
  }

  Icmpv6 *s = calloc(1, sizeof *s);
  uv_poll_t *poll = malloc(sizeof *poll);
  struct uv_loop_s *loop = NULL;
  if (s == NULL || poll == NULL) {
    free(s);
    free(poll);
    close(fd);
    return throw_errno(env, ENOMEM, "open");
  }
  s->env = env;
  s->fd = fd;
  s->ifindex = ifindex;
  int uv_status = napi_get_uv_event_loop(env, &loop) == napi_ok ? uv_poll_init(loop, poll, fd) : UV_EINVAL;
  if (uv_status != 0) {
    free(s);
    free(poll);
    close(fd);
    return throw_errno(env, EINVAL, "uv_poll_init");
  }
  poll->data = s;
  s->poll = poll;

  napi_value constructor, self, resource_name;
  napi_get_reference_value(env, addon->constructor, &constructor);
  napi_new_instance(env, constructor, 0, NULL, &self);
  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    close_descriptor(s);
    free(s);
    return NULL;
  }
  napi_create_reference(env, self, 1, &s->self);
  napi_create_reference(env, argv[3], 1, &s->on_message);
  napi_create_reference(env, argv[4], 1, &s->on_error);
  napi_create_string_utf8(env, "leasehold:icmpv6", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, self, resource_name, &s->async);
  napi_add_env_cleanup_hook(env, cleanup_hook, s);
  s->cleanup_hook_added = 1;

  uv_status = uv_poll_start(poll, UV_READABLE, on_poll);
  if (uv_status != 0) {
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
      {"send", NULL, Send, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value constructor, open;
  napi_define_class(env, "Icmpv6Socket", NAPI_AUTO_LENGTH, construct_self, NULL, 2, methods, &constructor);
  napi_create_reference(env, constructor, 1, &addon->constructor);
  napi_set_instance_data(env, addon, free_addon, NULL);
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, Open, addon, &open);
  napi_set_named_property(env, exports, "open", open);
  return exports;
}
