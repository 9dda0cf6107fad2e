/* Mutex-protected intrusive list + uv_async_t wake-up; dispatch drains the whole list per wake. */
#include "sfu/mq.h"
#include "sfu/lg_error.h"

#include <stdlib.h>

static void mq_dispatch(lg_mq_t *mq, lg_msg_t *m)
{
    if (m->type >= 0 && m->type < mq->nhandlers && mq->handlers[m->type])
        mq->handlers[m->type](mq->ctx, m);
    else
        free(m);
}

static void mq_on_async(uv_async_t *h)
{
    lg_mq_t *mq = h->data;
    uv_mutex_lock(&mq->lock);
    lg_msg_t *m = mq->head;
    mq->head = mq->tail = NULL;
    uv_mutex_unlock(&mq->lock);
    while (m) {
        lg_msg_t *next = m->next;
        m->next = NULL;
        mq_dispatch(mq, m);
        m = next;
    }
}

int lg_mq_init(lg_mq_t *mq, uv_loop_t *loop, const lg_mq_handler_fn *handlers, int nhandlers,
               void *ctx)
{
    mq->head = mq->tail = NULL;
    mq->closed = 0;
    mq->handlers = handlers;
    mq->nhandlers = nhandlers;
    mq->ctx = ctx;
    int rc = uv_mutex_init(&mq->lock);
    if (rc != 0)
        return rc;
    rc = uv_async_init(loop, &mq->async, mq_on_async);
    if (rc != 0) {
        uv_mutex_destroy(&mq->lock);
        return rc;
    }
    mq->async.data = mq;
    return 0;
}

void *lg_msg_new(int type, size_t size)
{
    lg_msg_t *m = calloc(1, size < sizeof *m ? sizeof *m : size);
    if (m)
        m->type = type;
    return m;
}

int lg_mq_post(lg_mq_t *mq, lg_msg_t *msg)
{
    msg->next = NULL;
    uv_mutex_lock(&mq->lock);
    if (mq->closed) {
        uv_mutex_unlock(&mq->lock);
        free(msg);
        return LG_ESTATE;
    }
    if (mq->tail)
        mq->tail->next = msg;
    else
        mq->head = msg;
    mq->tail = msg;
    /* uv_async_send under the lock: lg_mq_close cannot close the handle in between. */
    uv_async_send(&mq->async);
    uv_mutex_unlock(&mq->lock);
    return 0;
}

void lg_mq_close(lg_mq_t *mq, uv_close_cb close_cb)
{
    uv_mutex_lock(&mq->lock);
    mq->closed = 1;
    lg_msg_t *m = mq->head;
    mq->head = mq->tail = NULL;
    uv_mutex_unlock(&mq->lock);
    while (m) {
        lg_msg_t *next = m->next;
        free(m);
        m = next;
    }
    uv_close((uv_handle_t *)&mq->async, close_cb);
}

void lg_mq_destroy(lg_mq_t *mq)
{
    uv_mutex_destroy(&mq->lock);
}
