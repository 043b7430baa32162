// The kqueue(2) declarations of FreeBSD 14's <sys/event.h> that bsd/poller.cpp and
// bsd/exit_watcher.cpp use, copied
// from its man page, so the Linux build can compile that file (types only: nothing here runs;
// tests/CMakeLists.txt). This is FreeBSD's layout; macOS's differs in `data` (intptr_t) and
// has no `ext`, neither of which those files use. Not a kqueue: a test that needed one would
// need a BSD machine (docs/platforms.md).
#pragma once

#include <stdint.h>
#include <time.h>

struct kevent {
  uintptr_t ident;
  short filter;
  unsigned short flags;
  unsigned int fflags;
  int64_t data;
  void* udata;
  uint64_t ext[4];
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_PROC (-5)
#define EVFILT_USER (-11)
#define NOTE_EXIT 0x80000000
#define NOTE_TRIGGER 0x01000000
#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_EOF 0x8000

#define EV_SET(kevp, a, b, c, d, e, f) \
  do {                                 \
    struct kevent* ev_ = (kevp);       \
    ev_->ident = (a);                  \
    ev_->filter = (b);                 \
    ev_->flags = (c);                  \
    ev_->fflags = (d);                 \
    ev_->data = (e);                   \
    ev_->udata = (f);                  \
  } while (0)

extern "C" int kqueue(void);
extern "C" int kevent(int kq, const struct kevent* changelist, int nchanges,
                      struct kevent* eventlist, int nevents, const struct timespec* timeout);
