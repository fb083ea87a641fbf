# The ICMPv6 raw socket of the RA sender (see icmpv6.c). Built by
# `make native` (part of `make build`) with npm's own node-gyp against the
# installed Node's headers; loaded by server/net/icmpv6-socket.ts from
# build/Release/icmpv6.node beside this file.
{
  'targets': [
    {
      'target_name': 'icmpv6',
      'sources': ['icmpv6.c'],
      'include_dirs': ['../common'],
      'cflags': ['-std=gnu11', '-Wall', '-Wextra', '-Werror'],
      'defines': ['NAPI_VERSION=8'],
    },
  ],
}
