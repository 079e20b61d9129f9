"""Processes, as /proc shows them: httpd's children, liveness, busy
children, credentials and nice value, memory (smaps_rollup), CPU time,
tracers, open files, and which child serves a given TCP connection.

One rule for zombies everywhere: a zombie is dead.  httpd's parent reaps
its children, but a daemonized parent is not our child, so a zombie of
ours (or one the parent has not reaped yet) would otherwise count as
alive; a process that has exited is gone, whoever still has to reap it.

Standard library only, so bench/run can use it.
"""
import os
import re
import signal
import time


def _stat_fields(path):
    """The fields of a /proc stat file after the command name (which may
    hold spaces and parentheses): [state, ppid, ...], or None."""
    try:
        with open(path) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def proc_stat(pid):
    """(state, ppid) of a process, or None when it is gone."""
    fields = _stat_fields("/proc/%d/stat" % pid)
    if not fields:
        return None
    try:
        return fields[0], int(fields[1])
    except (IndexError, ValueError):
        return None


def pid_alive(pid):
    """The process exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def wait_gone(pid, timeout):
    """Waits up to `timeout` seconds for the process to end; True when it
    has."""
    deadline = time.time() + timeout
    while pid_alive(pid):
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True


def kill(pid, sig=signal.SIGKILL):
    """Signals one process by pid; False when it was already gone."""
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def uids(pid):
    """(real, effective, saved, filesystem) uid of a process, from
    /proc/PID/status, or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return tuple(int(x) for x in line.split()[1:5])
    except OSError:
        return None
    return None


def nice(pid):
    """The nice value of a process (-20 .. 19), or None when it is gone."""
    fields = _stat_fields("/proc/%d/stat" % pid)
    if not fields:
        return None
    try:
        return int(fields[16])      # field 19 of stat(5)
    except (IndexError, ValueError):
        return None


def children(ppid):
    """Live (not zombie) child processes of `ppid`, sorted: httpd's
    children under every MPM (threads of a child are not processes of
    their own)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[1] == ppid and st[0] != "Z":
            out.append(int(name))
    return sorted(out)


def threads(pid):
    """Thread ids of a process ([] when it is gone)."""
    try:
        return sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))
    except OSError:
        return []


def busy_children(ppid):
    """Children with a thread running on a CPU or waiting for the disk (R
    or D): those are likely hashing or serving."""
    out = []
    for pid in children(ppid):
        for tid in threads(pid):
            fields = _stat_fields("/proc/%d/task/%d/stat" % (pid, tid))
            if fields and fields[0] in ("R", "D"):
                out.append(pid)
                break
    return out


def cpu_seconds(pid):
    """User + system CPU time of a process so far, or None when it is
    gone."""
    fields = _stat_fields("/proc/%d/stat" % pid)
    if not fields:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def smaps_rollup(pid):
    """/proc/PID/smaps_rollup in kB ({'Rss': .., 'Private_Dirty': .., ...}),
    or None when the process is gone."""
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                m = re.match(r"^(\w+):\s+(\d+) kB", line)
                if m:
                    out[m.group(1)] = int(m.group(2))
    except OSError:
        return None
    return out


def tracer_pid(pid):
    """The pid tracing a process (0: none), or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def holder_of(pids, targets):
    """The first pid among `pids` with an open descriptor whose link is one
    of `targets` (a path, a "socket:[inode]", or a set of them), or None."""
    if isinstance(targets, str):
        targets = {targets}
    for pid in pids:
        fd_dir = "/proc/%d/fd" % pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) in targets:
                    return pid
            except OSError:
                continue
    return None


def _socket_inodes(local_port, remote_port):
    """Inodes of the TCP sockets (server side) from 127.0.0.1:local_port to
    127.0.0.1:remote_port."""
    want_l = "0100007F:%04X" % local_port
    want_r = "0100007F:%04X" % remote_port
    out = set()
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1] == want_l and parts[2] == want_r:
                    out.add(parts[9])
    except OSError:
        pass
    return out


def child_serving(ppid, server_port, client_port):
    """The child of `ppid` that holds the server side of the connection
    from our local port `client_port`, or None."""
    inodes = _socket_inodes(server_port, client_port)
    if not inodes:
        return None
    return holder_of(children(ppid), {"socket:[%s]" % i for i in inodes})
