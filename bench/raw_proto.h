/* The raw UDP forwarder's control messages, shared by legation-raw-forwarder and the bench's raw
 * system. One UDP port carries both: a datagram starting with RAW_MAGIC is control, anything else
 * from a registered member is media. */
#ifndef LG_BENCH_RAW_PROTO_H
#define LG_BENCH_RAW_PROTO_H

/* "LGRAW1 JOIN <room> <flags>"  register the sender's address in room; flags: RAW_PUB | RAW_SUB.
 *                               Reply "LGRAW1 OK" (or "LGRAW1 ERR <why>").
 * "LGRAW1 LEAVE"                forget the sender's address. Reply "LGRAW1 OK".
 * "LGRAW1 PING"                 reply "LGRAW1 PONG" (readiness). */
#define RAW_MAGIC     "LGRAW1 "
#define RAW_MAGIC_LEN 7
#define RAW_PUB       1
#define RAW_SUB       2

#endif
