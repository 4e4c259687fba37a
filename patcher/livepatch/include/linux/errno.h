/* klpemu guest kernel API: the errno values the livepatch API returns. */
#ifndef _KLPEMU_LINUX_ERRNO_H
#define _KLPEMU_LINUX_ERRNO_H

#define EPERM 1
#define ENOENT 2
#define EINTR 4
#define EIO 5
#define ENOMEM 12
#define EBUSY 16
#define EEXIST 17
#define ENODEV 19
#define EINVAL 22
#define ENOSPC 28
#define EADDRINUSE 98

#endif
