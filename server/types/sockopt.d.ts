// The sockopt package ships no types; it sets integer socket options on the
// fd behind a bound dgram/net socket.
declare module 'sockopt' {
  import type { Socket } from 'node:dgram';
  const sockopt: {
    setsockopt(socket: Socket, level: number, option: number, value: number): void;
    getsockopt(socket: Socket, level: number, option: number): number;
  };
  export default sockopt;
}
