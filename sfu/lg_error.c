/* The table behind lg_strerror(): one message per LG_E* code. */
#include "sfu/lg_error.h"

const char *lg_strerror(int err)
{
    switch (err) {
#define LG_ERR_MSG(name, value, msg)                                                               \
    case LG_##name:                                                                                \
        return msg;
        LG_ERRNO_MAP(LG_ERR_MSG)
#undef LG_ERR_MSG
    case 0:
        return "success";
    }
    return "unknown error";
}

const char *lg_errname(int err)
{
    switch (err) {
#define LG_ERR_NAME(name, value, msg)                                                              \
    case LG_##name:                                                                                \
        return #name;
        LG_ERRNO_MAP(LG_ERR_NAME)
#undef LG_ERR_NAME
    case 0:
        return "OK";
    }
    return "EUNKNOWN";
}
