# The DHCPv4 server's datagram socket with recvmmsg/sendmmsg batching and a
# link-layer send path (see dhcp4sock.c). Built by `make native` like the
# icmpv6 addon; loaded by server/net/native-dhcp4-transport.ts from
# build/Release/dhcp4sock.node beside this file. Optional: without it the
# server uses Node's dgram.
{
  'targets': [
    {
      'target_name': 'dhcp4sock',
      'sources': ['dhcp4sock.c'],
      'include_dirs': ['../common'],
      'cflags': ['-std=gnu11', '-Wall', '-Wextra', '-Werror'],
      'defines': ['NAPI_VERSION=8'],
    },
  ],
}
