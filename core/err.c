/* err.c — names for enum ig_err. */
#include "core/err.h"

const char *ig_strerror(int err)
{
    switch (err) {
    case IG_OK:        return "ok";
    case IG_EINVAL:    return "invalid argument";
    case IG_EIO:       return "input/output error";
    case IG_EPARSE:    return "parse error";
    case IG_E2BIG:     return "size limit exceeded";
    case IG_EAGAIN:    return "temporary failure, retry later";
    case IG_EREJECTED: return "rejected permanently";
    case IG_EDECLINED: return "declined";
    case IG_ENOENT:    return "not found";
    case IG_ENOMEM:    return "out of memory";
    default:           return "unknown error";
    }
}
