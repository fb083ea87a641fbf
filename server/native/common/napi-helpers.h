/*
 * What Leasehold's N-API addons (icmpv6, dhcp4sock) share: errors that
 * carry the errno name as `code` (ENODEV, EPERM...) and the failing call as
 * `syscall`, like Node's own; calling back into JavaScript from a libuv
 * callback; small socket-option and reference helpers. Static functions in
 * a header: each addon is one translation unit.
 */
#ifndef LEASEHOLD_NAPI_HELPERS_H
#define LEASEHOLD_NAPI_HELPERS_H

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

static inline napi_value errno_error(napi_env env, int err, const char *syscall) {
  const char *code = uv_err_name(uv_translate_sys_error(err));
  char message[256];
  snprintf(message, sizeof message, "%s: %s (%s)", syscall, strerror(err), code);
  napi_value code_value, message_value, error, syscall_value, errno_value;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  napi_create_error(env, code_value, message_value, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  return error;
}

static inline napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_throw(env, errno_error(env, err, syscall));
  return NULL;
}

static inline napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

static inline int set_int_option(int fd, int level, int option, int value) {
  return setsockopt(fd, level, option, &value, sizeof value);
}

#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
/* The constructor of a class whose instances are made by an `open` function: it only hands `this` back. */
static inline napi_value construct_self(napi_env env, napi_callback_info info) {
  napi_value self;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  return self;
}

#endif

/*
 * Binds the socket to one link: only what arrives on it is read, and
 * everything sent leaves by it. SO_BINDTOIFINDEX (Linux >= 5.0), else
 * SO_BINDTODEVICE by name. 0, or -1 with errno set.
 */
static inline int bind_to_interface(int fd, unsigned int ifindex) {
  if (set_int_option(fd, SOL_SOCKET, SO_BINDTOIFINDEX, (int)ifindex) == 0) return 0;
  char name[IF_NAMESIZE];
  if (errno != ENOPROTOOPT || if_indextoname(ifindex, name) == NULL) return -1;
  return setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, strlen(name) + 1);
}

/* For open functions holding `env` and a socket `fd`: on failure, close it and throw. */
#define CHECK_SETSOCKOPT(call, name)                     \
  do {                                                   \
    if ((call) != 0) {                                   \
      int err_ = errno;                                  \
      close(fd);                                         \
      return throw_errno(env, err_, "setsockopt " name); \
    }                                                    \
  } while (0)

static inline void delete_ref(napi_env env, napi_ref *ref) {
  if (*ref != NULL) {
    napi_delete_reference(env, *ref);
    *ref = NULL;
  }
}

static inline void free_uv_handle(uv_handle_t *handle) {
  free(handle);
}

/*
 * Calls `ref` with a Node callback scope, so that promise reactions and
 * nextTicks queued by the callback run before control returns to libuv.
 * A throw becomes an uncaught exception, as from any other I/O callback.
 */
static inline void call_js(napi_env env, napi_async_context async, napi_ref ref, size_t argc, napi_value *argv) {
  napi_value fn, receiver, result;
  if (ref == NULL || napi_get_reference_value(env, ref, &fn) != napi_ok || fn == NULL) return;
  /* napi_make_callback converts its receiver to an object: undefined would throw. */
  napi_get_global(env, &receiver);
  if (napi_make_callback(env, async, receiver, fn, argc, argv, &result) == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

/* The constructor of a class whose instances are made by an `open` function: it only hands `this` back. */
static inline napi_value construct_self(napi_env env, napi_callback_info info) {
  napi_value self;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  return self;
}

#endif
