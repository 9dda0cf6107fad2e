/* A message queue between threads: any thread posts, one uv loop receives and dispatches each
 * message through a table of handlers indexed by message type. The only channel between the
 * control thread and the media workers. */
#ifndef LG_MQ_H
#define LG_MQ_H

#include <stddef.h>
#include <uv.h>

/* Every message starts with this header. Messages are malloc'ed by the sender; ownership passes
 * to the queue on post and to the handler on dispatch: the handler frees (or forwards) it. */
typedef struct lg_msg {
    struct lg_msg *next;
    int type;
} lg_msg_t;

typedef void (*lg_mq_handler_fn)(void *ctx, lg_msg_t *msg);

typedef struct {
    uv_mutex_t lock;
    lg_msg_t *head;
    lg_msg_t *tail;
    int closed;
    uv_async_t async;
    const lg_mq_handler_fn *handlers; /* indexed by type; NULL entries drop (free) the message */
    int nhandlers;
    void *ctx; /* passed to handlers */
} lg_mq_t;

/* Initializes the queue on the receiving thread's loop. Returns 0 or a negative uv error. */
int lg_mq_init(lg_mq_t *mq, uv_loop_t *loop, const lg_mq_handler_fn *handlers, int nhandlers,
               void *ctx);

/* Thread-safe. Queues msg and wakes the receiving loop. After lg_mq_close the message is freed
 * and LG_ESTATE returned, so late senders never leak. */
int lg_mq_post(lg_mq_t *mq, lg_msg_t *msg);

/* Allocates a zeroed message of `size` bytes (>= sizeof(lg_msg_t)) with the given type. */
void *lg_msg_new(int type, size_t size);

/* On the receiving thread: stops accepting messages, frees any still queued, and closes the
 * async handle (close_cb may be NULL). The mutex is destroyed by lg_mq_destroy once the handle
 * is closed and no other thread can still post. */
void lg_mq_close(lg_mq_t *mq, uv_close_cb close_cb);
void lg_mq_destroy(lg_mq_t *mq);

#endif
