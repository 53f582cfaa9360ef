// What posix_spawn needs from glibc that Swift's Glibc module does not declare (GNU extensions).
#pragma once
#include <spawn.h>

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, so a command another thread
/// spawns meanwhile never inherits them.
int mw_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34): the child closes every descriptor from
/// `from` up before it execs, whatever the parent left inheritable (NIO's sockets are).
int mw_spawn_file_actions_closefrom(posix_spawn_file_actions_t *actions, int from);
