/**
 * The task launcher's texts: the program that starts an engine's tasks, the requests the engine
 * sends it and the lines it reports.
 *
 * The launcher is one long-lived `python3` per engine (3.8 or newer, which most nodes have). It
 * starts each task with `posix_spawn` (no copy of any process's memory, no second exec), as
 * `/bin/bash -c COMMAND` leading a process group of its own, stdin `/dev/null`, signals at their
 * defaults, and reaps it with `waitpid`, which tells a signal death from an exit code. The engine
 * hands it every task it holds: the launcher keeps a queue and starts the next task the moment a
 * slot is free, without a round trip to the engine, and its reports go out in batches, so that the
 * engine's part per task is a fraction of a wake-up. Where no such python is found, or before it is
 * ready, the engine spawns each task itself.
 *
 * It is started with the engine, so that python's start overlaps the engine's handshake with the
 * driver. Its stdin then carries one JSON line, `[SILENT_S, CWD, {BASE_ENVIRONMENT}]` (the grace for
 * a silent engine, the tasks' working directory and their base environment, known once the driver
 * welcomed the engine), then nothing: its end means the engine is gone. Requests come on a FIFO the
 * launcher makes in its directory, one JSON text per line:
 *
 * - `[RUN, SLOT, COMMAND, {VARIABLES}]`: start this task now in SLOT (-1 for PERENGINE tasks);
 * - `[RUN, null, COMMAND, {VARIABLES}]`: queue it, for the first of the queue's slots to be free;
 * - `["pool", {SLOT: {VARIABLES}, ...}]`: these free slots are the queue's, each with its own
 *   variables (`DISBATCH_CYLINDER_RANK`, `--env-resource` values);
 * - `["withdraw", [RUN, ...]]`: take these out of the queue if they have not started;
 * - a fifth item `1` on a task's line: its failure ends the run (`--fail-fast`); once it has failed,
 *   the queue starts nothing more until `["release"]` (the engine's kill comes first, normally);
 * - `.`: a heartbeat.
 *
 * On its stdout it says `R VERSION SPAWN` when it is ready (SPAWN: how it starts tasks), or
 * `X WHY` when it cannot work here (and exits). Ready, its directory holds the request FIFO
 * (`requests`) and a Unix socket (`reports`) that the engine connects to for the reports, which it
 * reads with plain reads (no stream):
 *
 * - `S RUN PID START SLOT`: the task runs, as process group PID; these lines wait up to 100 ms for
 *   other news to go with (the previous task's end, typically), so that the engine wakes once per
 *   task at most;
 * - `F RUN SLOT MESSAGE`: it could not be started;
 * - `W RUN`: a queued task taken back (it never started);
 * - `E RUN PID RC START END OUT OUTHEAD OUTTAIL ERR ERRHEAD ERRTAIL`: it ended with RC (minus the
 *   signal number after a signal death); OUT and ERR are the byte counts of its stdout and stderr,
 *   with the first 40 bytes and the last 40 of what follows them in hex (`-` for none). While
 *   tasks wait in the queue, nobody waits for a success: these lines wait up to 100 ms to go together
 *   (a failure's line goes at once, with those waiting).
 *
 * Output goes to per-slot files in the launcher's private directory. When a process of the task's
 * group outlives it and still holds one of those files open, the end is reported once no process
 * holds them, 5 s after the exit at most (as the engine waited for pipes to close); a slot whose
 * files are still held then moves on to new ones, so that a straggler's output never counts for a
 * later task. A file that grows by CUT_BYTES is cut back to nothing (its first 40 bytes and its last
 * 40 are kept): the task writes on at its own offset, after a hole that takes no space, so the byte
 * count stays exact and a task that writes gigabytes does not fill the disk. When its stdin ends
 * (the engine is gone) or stays silent for the grace it was given, the launcher kills every task it
 * started (SIGTERM, SIGKILL 1 s later), starts nothing more, removes its directory and exits.
 *
 * @module
 */

/** The launcher program: `python3 -I -S -c LAUNCHER_PROGRAM DIR CUT_BYTES`. */
export const LAUNCHER_PROGRAM = String
  .raw`import collections, errno, json, os, select, signal, socket, sys, time

# Tests lengthen both waits, to tell a batched report from an immediate one under any load.
START_WAIT = END_WAIT = float(os.environ.get("DISBATCH_LAUNCHER_WAIT_S") or 0.1)
try:
    import fcntl
    # F_SETLEASE and F_SETSIG (Linux; python has the names from 3.9 only).
    F_SETLEASE = getattr(fcntl, "F_SETLEASE", 1024)
    F_SETSIG = getattr(fcntl, "F_SETSIG", 10)
except ImportError:
    fcntl = None
# os.fsencode's encoding, without its two python calls per string.
FS_ENC, FS_ERR = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()

class Native:
    """posix_spawn called through ctypes, with its attributes, each slot's file actions and the base
    environment made once: os.posix_spawn makes all of them again at every start, and encodes every
    variable of the environment each time."""

    def __init__(self, dflt):
        import ctypes
        c = self.c = ctypes
        libc = self.libc = c.CDLL(None, use_errno=True)
        self.spawn = libc.posix_spawn
        self.attr = c.create_string_buffer(1024)  # posix_spawnattr_t: 336 bytes in glibc
        sigs, none = c.create_string_buffer(256), c.create_string_buffer(256)
        libc.sigemptyset(sigs)
        libc.sigemptyset(none)
        for s in dflt:
            libc.sigaddset(sigs, int(s))
        self.check(libc.posix_spawnattr_init(self.attr))
        self.check(libc.posix_spawnattr_setsigdefault(self.attr, sigs))
        self.check(libc.posix_spawnattr_setsigmask(self.attr, none))
        self.check(libc.posix_spawnattr_setpgroup(self.attr, 0))
        # POSIX_SPAWN_SETPGROUP | SETSIGDEF | SETSIGMASK, as glibc and musl number them.
        self.check(libc.posix_spawnattr_setflags(self.attr, c.c_short(2 | 4 | 8)))
        self.argv = (c.c_char_p * 4)(b"/bin/bash", b"-c", None, None)
        self.pid = c.c_int()
        self.keep = []  # paths the file actions point to

    @staticmethod
    def check(r):
        if r:
            raise OSError(r, os.strerror(r))

    @staticmethod
    def entries(env):
        # What os.posix_spawn checks, once for all of the task's variables (a call per variable
        # costs more than the spawn's own work in python).
        if "" in env or "=" in "".join(env):
            raise ValueError("illegal environment variable name")
        es = [k + "=" + v for k, v in env.items()]
        if "\0" in "".join(es):
            raise ValueError("embedded null byte")
        return [e.encode(FS_ENC, FS_ERR) for e in es]

    def environ(self, base):
        self.base, self.keys = base, set(base)
        entries = self.entries(base)
        self.n, self.room = len(entries), 64
        self.envp = (self.c.c_char_p * (self.n + self.room + 1))(*entries)

    def actions(self, op, ep, wr):
        fa = self.c.create_string_buffer(1024)  # posix_spawn_file_actions_t: 80 bytes in glibc
        self.check(self.libc.posix_spawn_file_actions_init(fa))
        for fd, path, flags in ((0, b"/dev/null", os.O_RDONLY), (1, os.fsencode(op), wr), (2, os.fsencode(ep), wr)):
            self.keep.append(path)
            self.check(self.libc.posix_spawn_file_actions_addopen(fa, fd, path, flags, 0o600))
        return fa

    def __call__(self, cmd, env, fa):
        if "\0" in cmd:
            raise ValueError("embedded null byte")
        self.argv[2] = cmd.encode(FS_ENC, FS_ERR)
        if len(env) <= self.room and self.keys.isdisjoint(env):
            envp, n, own = self.envp, self.n, self.entries(env)
            envp[n:n + len(own)] = own
            envp[n + len(own)] = None
        else:
            # A variable of the base environment set again: one entry for it, the task's.
            e = self.base.copy()
            e.update(env)
            envp = (self.c.c_char_p * (len(e) + 1))(*self.entries(e))
        r = self.spawn(self.c.byref(self.pid), b"/bin/bash", fa, self.attr, self.argv, envp)
        if r:
            raise OSError(r, os.strerror(r))
        return self.pid.value

def main():
    if sys.version_info < (3, 8) or not hasattr(os, "posix_spawn"):
        os.write(1, b"X python %s has no posix_spawn with process groups (3.8 or newer needed)\n" % sys.version.split()[0].encode())
        return 3
    d, big = sys.argv[1], int(sys.argv[2])
    dflt = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD]
    # Made before the engine's first line comes (it waits for the driver's welcome).
    native, way = None, "os.posix_spawn (DISBATCH_LAUNCHER_CTYPES=0)"
    if os.environ.get("DISBATCH_LAUNCHER_CTYPES") != "0":
        try:
            native, way = Native(dflt), "posix_spawn through ctypes"
        except Exception as x:
            way = "os.posix_spawn (no ctypes: %s)" % str(x).replace("\n", " ")
    line = b""
    while not line.endswith(b"\n"):
        c = os.read(0, 1 << 16)
        if not c:
            return 0
        line += c
    silent, cwd, base, vmem = json.loads(line)
    silent = float(silent)
    if vmem:
        # The soft ulimit -v that disbatch's launcher lifted for its runtime: the tasks' again.
        import resource
        try:
            hard = resource.getrlimit(resource.RLIMIT_AS)[1]
            resource.setrlimit(resource.RLIMIT_AS, (vmem * 1024, hard))
        except (OSError, ValueError) as x:
            way += "; the tasks' soft ulimit -v %d could not be set: %s" % (vmem, str(x).replace("\n", " "))
    if native is not None:
        try:
            native.environ(base)
        except ValueError as x:
            native, way = None, "os.posix_spawn (%s in the environment)" % x
    try:
        os.chdir(cwd)
    except OSError as x:
        os.write(1, ("X cannot change to the run's directory %s: %s\n" % (cwd, x.strerror)).encode())
        return 3
    fifo = d + "/requests"
    os.mkfifo(fifo, 0o600)
    # Read and write: never blocks, never ends; the engine's end is the end of stdin.
    req = os.open(fifo, os.O_RDWR)
    # Reports go to the engine over a socket it connects to (it reads those with plain reads).
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(d + "/reports")
    srv.listen(1)
    rep = None
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(s, signal.SIG_IGN)
    rfd, wfd = os.pipe()
    os.set_blocking(rfd, False)
    os.set_blocking(wfd, False)
    signal.signal(signal.SIGCHLD, lambda *a: None)
    signal.set_wakeup_fd(wfd)
    sel = select.epoll()
    sel.register(req, select.EPOLLIN)
    sel.register(0, select.EPOLLIN)
    sel.register(rfd, select.EPOLLIN)
    srvfd = srv.fileno()
    sel.register(srvfd, select.EPOLLIN)
    gen = {}
    running = {}  # pid -> [run, slot, start, opath, epath]
    kept = {}  # output path -> (size when cut, first 40 bytes, last 40 bytes before the cut)
    draining = {}  # pid -> [run, slot, start, opath, epath, status, end, until, next look]
    GROUPS.extend((running, draining))
    out = []
    # Start lines wait up to START_WAIT s for other news (the end of the task before, typically), so
    # that the engine wakes once per task rather than twice. While tasks wait in the queue, nobody
    # waits for an end: end lines wait up to END_WAIT s to go out together, or until the queue is down
    # to half of what it held after the last ones went (the engine's refill then comes before it runs
    # dry, and the slots never wait for the round trip).
    started = []
    due = [0.0, 0.0]  # when the start lines must go out; when the end lines must
    high = [0]  # the most tasks queued since end lines last went out
    waiting = collections.deque()  # queued tasks: (run, command, variables)
    pool = []  # free slots that the queue fills
    pool_env = {}  # slot -> its own variables
    pooled = set()  # pids of tasks started from the queue
    stops = set()  # pids of tasks whose failure ends the run (--fail-fast)
    holding = [False]  # one of those failed: the queue starts nothing until the engine's release
    buf = b""
    heard = time.monotonic()
    next_cut = heard + 1
    dying = None

    def hexa(b):
        return b.hex() if b else "-"

    def cut(path):
        # Much output: keep its first 40 bytes and its last 40 so far, and give the space back. The
        # task writes on at its own offset, after a hole that takes no space, so the size still counts.
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return
        try:
            n = os.fstat(fd).st_size
            k = kept.get(path)
            if n - (k[0] if k else 0) < big:
                return
            head = k[1] if k else os.pread(fd, 40, 0)
            tail = os.pread(fd, 40, n - 40)
            os.ftruncate(fd, 0)
            kept[path] = (n, head, tail)
        finally:
            os.close(fd)

    def snip(path):
        k = kept.pop(path, None)
        try:
            # Most tasks write nothing: one stat, no open.
            if not k and os.stat(path).st_size == 0:
                return "0 - -"
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return "0 - -"
        try:
            n = os.fstat(fd).st_size
            if k:
                at, head, saved = k
                n = max(n, at)
                after = os.pread(fd, min(40, n - at), n - min(40, n - at)) if n > at else b""
                tail = (saved + after)[-40:]
                return "%d %s %s" % (n, hexa(head), hexa(tail))
            if n == 0:
                return "0 - -"
            head = os.pread(fd, min(40, n), 0)
            frm = max(40, n - 40)
            tail = os.pread(fd, n - frm, frm) if n > frm else b""
            return "%d %s %s" % (n, hexa(head), hexa(tail))
        finally:
            os.close(fd)

    def lease(p):
        # A read lease on p: refused (EAGAIN) exactly while a process has it open for writing, on a
        # local file system. Should a writer open it while the lease is held, the break is told by
        # SIGCHLD (which wakes the launcher for nothing), not SIGIO (which would end it).
        fd = os.open(p, os.O_RDONLY)
        try:
            fcntl.fcntl(fd, F_SETSIG, signal.SIGCHLD)
            fcntl.fcntl(fd, F_SETLEASE, fcntl.F_RDLCK)  # closing the descriptor gives it back
        finally:
            os.close(fd)

    # Leases tell only where a file nobody writes gets one (an NFSv4 client without a delegation
    # refuses every lease with EAGAIN): else every process's descriptors are looked through (scan).
    leases = [fcntl is not None]
    if leases[0]:
        probe = d + "/lease-probe"
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT, 0o600))
            lease(probe)
        except OSError:
            leases[0] = False
        try:
            os.unlink(probe)
        except OSError:
            pass

    def held(paths):
        # Whether a process still has one of the files open for writing: a lease each where leases
        # tell, else a scan of every process's descriptors.
        unsure = []
        for p in paths:
            if not leases[0]:
                unsure.append(p)
                continue
            try:
                lease(p)
            except FileNotFoundError:
                continue
            except OSError as x:
                if x.errno == errno.EAGAIN:
                    return 1
                unsure.append(p)
        return 2 if unsure and scan(unsure) else 0

    def scan(paths):
        want = set()
        for p in paths:
            try:
                st = os.stat(p)
                want.add((st.st_dev, st.st_ino))
            except OSError:
                pass
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                fds = os.listdir("/proc/%s/fd" % pid)
            except OSError:
                continue
            for f in fds:
                try:
                    st = os.stat("/proc/%s/fd/%s" % (pid, f))
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) in want:
                    return True
        return False

    def say(line, wait):
        now = time.monotonic()
        if not out or now + wait < due[1]:
            due[1] = now + wait
        out.append(line)

    def report(pid, r):
        run, slot, start, op, ep, status, end = r[:7]
        rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        # A failure goes out at once: the driver's retries, --fail-fast and its view of the node act on it.
        say("E %s %d %d %.6f %.6f %s %s\n" % (run, pid, rc, start, end, snip(op), snip(ep)), END_WAIT if rc == 0 else 0)
        if pid in pooled:
            pooled.discard(pid)
            pool.append(slot)

    def settle(pid, r, now):
        # A process still in the task's group may hold its output: wait while one does, 5 s at most.
        try:
            os.killpg(pid, 0)
            alive = True
        except OSError:
            alive = False
        how = alive and held(r[3:5])
        if how:
            if now < r[7]:
                # Every 50 ms; a scan of /proc costs, so a long wait is scanned less often.
                r[8] = now + (0.05 if how == 1 else min(0.5, max(0.05, (now - r[6]) / 4)))
                draining[pid] = r
                return
            gen[r[1]] = gen.get(r[1], 0) + 1
        draining.pop(pid, None)
        report(pid, r)

    def reap():
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            r = running.pop(pid, None)
            if r is None:
                continue
            if pid in stops:
                stops.discard(pid)
                # Its failure ends the run (--fail-fast): no queued task starts before the engine says.
                if status:
                    holding[0] = True
            now = time.time()
            settle(pid, r + [status, now, now + 5, now], now)

    def kill_all(sig):
        for pid in list(running) + list(draining):
            try:
                os.killpg(pid, sig)
            except OSError:
                pass

    def fill():
        while pool and waiting and not holding[0]:
            run, cmd, env, stop = waiting.popleft()
            start(run, pool.pop(), cmd, env, True, stop)

    def request(x):
        if x[0] == "pool":
            for k, v in x[1].items():
                pool_env[int(k)] = v
                pool.append(int(k))
        elif x[0] == "release":
            holding[0] = False
        elif x[0] == "withdraw":
            back = set(x[1])
            keep = [w for w in waiting if w[0] not in back]
            for w in waiting:
                if w[0] in back:
                    say("W %d\n" % w[0], 0)
            waiting.clear()
            waiting.extend(keep)
        elif x[1] is None:
            waiting.append((x[0], x[2], x[3], len(x) > 4))
            high[0] = max(high[0], len(waiting))
        else:
            start(x[0], x[1], x[2], x[3], False, len(x) > 4)

    files = {}  # (slot, generation) -> (stdout path, stderr path, file actions)
    wr = os.O_WRONLY | os.O_CREAT | os.O_TRUNC

    def slot_files(slot):
        k = (slot, gen.get(slot, 0))
        f = files.get(k)
        if f is None:
            op, ep = "%s/o%d.%d" % (d, slot, k[1]), "%s/e%d.%d" % (d, slot, k[1])
            f = files[k] = (op, ep, native.actions(op, ep, wr) if native is not None else [
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, op, wr, 0o600),
                (os.POSIX_SPAWN_OPEN, 2, ep, wr, 0o600),
            ])
        return f

    def start(run, slot, cmd, env, queued, stop):
        t = time.time()
        try:
            op, ep, fa = slot_files(slot)
            if queued:
                env = dict(env, **pool_env[slot])
            if native is not None:
                pid = native(cmd, env, fa)
            else:
                e = base.copy()
                e.update(env)
                pid = os.posix_spawn("/bin/bash", ["/bin/bash", "-c", cmd], e, file_actions=fa, setpgroup=0, setsigdef=dflt, setsigmask=[])
        except Exception as x:
            why = "%s (os error %d)" % (x.strerror or "error", x.errno or 0) if isinstance(x, OSError) else str(x)
            say("F %s %d %s\n" % (run, slot, why.replace("\n", " ")), 0)
            if queued:
                pool.append(slot)
            if stop:
                holding[0] = True
            return
        running[pid] = [run, slot, t, op, ep]
        if queued:
            pooled.add(pid)
        if stop:
            stops.add(pid)
        if not started:
            due[0] = time.monotonic() + START_WAIT
        started.append("S %s %d %.6f %d\n" % (run, pid, t, slot))

    unsent = [b""]  # reports the socket did not take yet (it never blocks the launcher)

    def send(everything, wait_s=0):
        # Starts first: a task's start line always comes before its end line.
        now = time.monotonic()
        if everything or (out and (2 * len(waiting) <= high[0] or now >= due[1])) or (started and now >= due[0]):
            if out:
                high[0] = len(waiting)
            if started or out:
                unsent[0] += "".join(started + out).encode()
                started.clear()
                out.clear()
        until = now + wait_s
        while unsent[0]:
            try:
                unsent[0] = unsent[0][os.write(rep, unsent[0]):]
            except BlockingIOError:
                if time.monotonic() >= until:
                    break
                select_write(until - time.monotonic())
            except OSError:
                unsent[0] = b""
        if unsent[0] and not writing[0]:
            sel.register(rep, select.EPOLLOUT)
            writing[0] = True
        elif not unsent[0] and writing[0]:
            sel.unregister(rep)
            writing[0] = False

    writing = [False]

    def select_write(t):
        select.select([], [rep], [], max(0, t))

    def leave():
        # What is still to say goes out before the launcher ends (1 s at most: the engine may be frozen).
        if rep is not None:
            send(True, 1)

    if not leases[0]:
        way += "; no file leases in its directory: a task's leftover processes are found by a scan of /proc"
    os.write(1, ("R %s %s\n" % (sys.version.split()[0], way)).encode())
    while True:
        if rep is not None:
            send(False)
        if dying is not None and not running and not draining:
            leave()
            break
        now = time.monotonic()
        timeout = None
        if running:
            timeout = 1
        if draining:
            timeout = 0.05
        if rep is not None:
            if started:
                timeout = max(0, min(timeout if timeout is not None else 1, due[0] - now))
            if out:
                timeout = max(0, min(timeout if timeout is not None else 1, due[1] - now))
        if dying is not None:
            timeout = max(0, dying - now) if timeout is None else min(timeout, max(0, dying - now))
        elif silent > 0:
            left = max(0, heard + silent - now)
            timeout = left if timeout is None else min(timeout, left)
        for fd, _ in sel.poll(-1 if timeout is None else timeout):
            if fd == srvfd:
                conn, _ = srv.accept()
                conn.setblocking(False)
                rep = conn.detach()
                sel.unregister(srvfd)
                srv.close()
                srvfd = -1  # its number may be a later descriptor's
                continue
            if fd == rep:
                continue
            if fd == rfd:
                try:
                    while os.read(rfd, 512):
                        pass
                except OSError:
                    pass
                continue
            if fd == 0:
                if os.read(0, 1 << 16):
                    continue
                sel.unregister(0)
                if dying is None:
                    kill_all(signal.SIGTERM)
                    dying = time.monotonic() + 1
                continue
            chunk = os.read(req, 1 << 16)
            if not chunk:
                sel.unregister(req)
                if dying is None:
                    kill_all(signal.SIGTERM)
                    dying = time.monotonic() + 1
                continue
            heard = time.monotonic()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            lines = [l for l in lines if l and l != b"."]
            if lines:
                # One parse for what came together (a batch of tasks, typically).
                for x in json.loads(b"[" + b",".join(lines) + b"]"):
                    request(x)
        reap()
        if running and time.monotonic() >= next_cut:
            next_cut = time.monotonic() + 1
            for r in running.values():
                cut(r[3])
                cut(r[4])
        if draining:
            now = time.time()
            for pid, r in list(draining.items()):
                if now >= r[8]:
                    settle(pid, r, now)
        if dying is None:
            fill()
        mono = time.monotonic()
        if dying is None and silent > 0 and mono >= heard + silent:
            kill_all(signal.SIGTERM)
            dying = mono + 1
        elif dying is not None and mono >= dying:
            kill_all(signal.SIGKILL)
            if not running:
                leave()
                break
            dying = mono + 1
    return 0

GROUPS = []  # the running and draining tables: whatever is in them when the launcher ends is killed

try:
    sys.exit(main())
finally:
    for table in GROUPS:
        for pid in list(table):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
    import shutil
    shutil.rmtree(sys.argv[1], ignore_errors=True)
`;

/**
 * One task's request line.
 * @param run the engine's number for this start
 * @param slot the slot it runs in (-1 for PERENGINE tasks), or null: the queue's first free slot
 * @param commandArg the task's command as bash's \`-c\` argument
 * @param env the task's own variables
 * @param stopsRun its failure ends the run (\`--fail-fast\`): once it fails, the launcher's queue
 *   starts nothing more until a release line
 * @returns the line, with its newline
 */
export function requestLine(
  run: number,
  slot: number | null,
  commandArg: string,
  env: Record<string, string>,
  stopsRun = false,
): string {
  return JSON.stringify(stopsRun ? [run, slot, commandArg, env, 1] : [run, slot, commandArg, env]) + "\n";
}

/** The queue may start tasks again (it held them after the failure of a task marked `stopsRun`). */
export const RELEASE_LINE = JSON.stringify(["release"]) + "\n";

/**
 * The line that gives free slots to the launcher's queue.
 * @param slots each slot with its own variables
 * @returns the line, with its newline
 */
export function poolLine(slots: ReadonlyMap<number, Record<string, string>>): string {
  return JSON.stringify(["pool", Object.fromEntries(slots)]) + "\n";
}

/**
 * The line that takes queued tasks back.
 * @param runs their run numbers
 * @returns the line, with its newline
 */
export function withdrawLine(runs: readonly number[]): string {
  return JSON.stringify(["withdraw", runs]) + "\n";
}

/** One line a launcher reports. */
export type LauncherLine =
  | { kind: "ready"; version: string; spawn: string }
  | { kind: "unusable"; why: string }
  | { kind: "started"; run: number; pid: number; start: number; slot: number }
  | { kind: "failed"; run: number; slot: number; message: string }
  | { kind: "withdrawn"; run: number }
  | {
    kind: "ended";
    run: number;
    pid: number;
    returnCode: number;
    start: number;
    end: number;
    stdout: OutputSeen;
    stderr: OutputSeen;
  }
  | { kind: "other"; text: string };

/** What a task wrote to one stream: the byte count, the first 40 bytes and the last 40 after them. */
export interface OutputSeen {
  bytes: number;
  head: Uint8Array;
  tail: Uint8Array;
}

function unhex(s: string): Uint8Array | undefined {
  if (s === "-") return new Uint8Array(0);
  if (!/^(?:[0-9a-f]{2})+$/.test(s)) return undefined;
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

function output(f: string[], at: number): OutputSeen | undefined {
  const bytes = Number(f[at]);
  const head = unhex(f[at + 1] ?? "");
  const tail = unhex(f[at + 2] ?? "");
  if (!Number.isSafeInteger(bytes) || bytes < 0 || !head || !tail) return undefined;
  return { bytes, head, tail };
}

const INT = /^-?\d+$/;

/**
 * Parse one line of the launcher's report.
 * @param line the line, without its newline
 * @returns what it says (\`other\` for anything else)
 */
export function parseLauncherLine(line: string): LauncherLine {
  const f = line.split(" ");
  const run = Number(f[1]);
  switch (f[0]) {
    case "R":
      if (f.length >= 3) return { kind: "ready", version: f[1]!, spawn: f.slice(2).join(" ") };
      break;
    case "X":
      return { kind: "unusable", why: f.slice(1).join(" ") };
    case "S":
      if (
        f.length === 5 && INT.test(f[1]!) && INT.test(f[2]!) && Number.isFinite(Number(f[3])) &&
        INT.test(f[4]!)
      ) {
        return { kind: "started", run, pid: Number(f[2]), start: Number(f[3]), slot: Number(f[4]) };
      }
      break;
    case "F":
      if (f.length >= 4 && INT.test(f[1]!) && INT.test(f[2]!)) {
        return { kind: "failed", run, slot: Number(f[2]), message: f.slice(3).join(" ") };
      }
      break;
    case "W":
      if (f.length === 2 && INT.test(f[1]!)) return { kind: "withdrawn", run };
      break;
    case "E": {
      if (f.length !== 12 || !INT.test(f[1]!) || !INT.test(f[2]!) || !INT.test(f[3]!)) break;
      const start = Number(f[4]);
      const end = Number(f[5]);
      const stdout = output(f, 6);
      const stderr = output(f, 9);
      if (!Number.isFinite(start) || !Number.isFinite(end) || !stdout || !stderr) break;
      return { kind: "ended", run, pid: Number(f[2]), returnCode: Number(f[3]), start, end, stdout, stderr };
    }
  }
  return { kind: "other", text: line };
}
