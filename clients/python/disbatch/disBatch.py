"""A ``DisBatcher`` that runs the ``disbatch`` executable and talks to it through a pipe.

    from disbatch import disBatch
    db = disBatch.DisBatcher(tasksname='squares', args=['-s', 'localhost:4'])
    db.submit('echo 1')                 # a task-file line (directives too); runs at once
    status = db.syncTasks([0])          # {0: {'TaskId': 0, 'ReturnCode': 0, ...}}
    db.done()                           # no more tasks; waits for the run to end

Tasks are written to ``disbatch --results - --name TASKSNAME ARGS... -`` as lines (each one is sent
at once: the last task never waits for another), results come back as JSON lines, one per
finished task, with the fields of disBatch's status reports (``TaskId``, ``ReturnCode``,
``TaskCmd``, ...). Task ids are assigned by disbatch as for a task file: 0, 1, ... in submission
order, a ``#DISBATCH REPEAT`` takes one id per repetition, a ``#DISBATCH BARRIER`` one id.

The executable is ``$DISBATCH_BIN`` if set, else ``disbatch`` on ``PATH``. When disbatch ends
before the results waited for arrive (a usage error, a failed run, a killed driver), the waiting
call raises ``DisBatchError`` with its exit status and last messages instead of hanging.
"""

import json
import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading

__all__ = ['DisBatcher', 'DisBatchError']

_END = object()


class DisBatchError(RuntimeError):
    """disbatch could not run, or ended before the results waited for arrived."""


def _executable():
    given = os.environ.get('DISBATCH_BIN')
    if given:
        return shlex.split(given)
    found = shutil.which('disbatch')
    if not found:
        raise DisBatchError(
            'disbatch: executable not found: put the disbatch launcher on PATH (disbatch install ~/bin) '
            'or set DISBATCH_BIN to its path'
        )
    return [found]


class DisBatcher:
    """Encapsulates a disbatch run fed by this program."""

    def __init__(self, tasksname='DisBatcher', args=(), kvsserver=None):
        if kvsserver is not None:
            raise DisBatchError('disbatch has no key-value server: leave kvsserver out')
        cmd = _executable() + ['--results', '-', '--name', str(tasksname)] + [str(a) for a in args] + ['-']
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
            )
        except OSError as e:
            raise DisBatchError(f'disbatch: cannot start {cmd[0]}: {e}') from e
        self.tid2status = {}
        self._results = queue.Queue()
        self._stderr_tail = []
        self._closed = False
        self._out = threading.Thread(target=self._read_results, name='disbatch results', daemon=True)
        self._err = threading.Thread(target=self._read_stderr, name='disbatch stderr', daemon=True)
        self._out.start()
        self._err.start()

    # -- the pipe ------------------------------------------------------------------------------

    def _read_results(self):
        try:
            for raw in self._proc.stdout:
                try:
                    status = json.loads(raw.decode('utf-8', 'surrogateescape'))
                except ValueError:
                    continue
                # Barriers and PERENGINE tasks are results too, but not tasks that were submitted.
                if status.get('Kind', 'task') == 'task':
                    self._results.put(status)
        finally:
            self._results.put(_END)

    def _read_stderr(self):
        for raw in self._proc.stderr:
            line = raw.decode('utf-8', 'replace')
            sys.stderr.write(line)
            sys.stderr.flush()
            self._stderr_tail.append(line.rstrip('\n'))
            del self._stderr_tail[:-20]

    def _failure(self, what):
        self._err.join(timeout=5)
        code = self._proc.wait()
        tail = '\n'.join(self._stderr_tail[-8:])
        return DisBatchError(f'disbatch ended (exit status {code}) {what}' + (f':\n{tail}' if tail else ''))

    # -- disBatch's interface --------------------------------------------------------------------

    def submit(self, c):
        """Add a task (a task-file line; ``#DISBATCH`` directives too). disbatch assigns ids as for
        a task file; it is up to the caller to track them."""
        if self._closed:
            raise DisBatchError('submit() after done(): start another DisBatcher')
        line = str(c).replace('\r\n', '\n')
        if '\n' in line.rstrip('\n'):
            raise ValueError('a task is one line: submit several lines one by one')
        try:
            self._proc.stdin.write((line.rstrip('\n') + '\n').encode('utf-8', 'surrogateescape'))
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError) as e:
            raise self._failure('before the task could be submitted') from e

    def wait_one_task(self):
        """Wait for a task (any task) to complete; returns its status report (a dict)."""
        status = self._results.get()
        if status is _END:
            self._results.put(_END)
            raise self._failure('while a task result was awaited')
        self.tid2status[status['TaskId']] = status
        return status

    def syncTasks(self, taskIds):
        """Wait for the given task ids to complete; returns a dict from task id to status report."""
        tid2status = {}
        for tid in taskIds:
            while tid not in self.tid2status:
                self.wait_one_task()
            tid2status[tid] = self.tid2status[tid]
        return tid2status

    def done(self):
        """No more tasks: disbatch finishes the running ones and ends. Returns its exit status;
        raises DisBatchError when the run failed."""
        if self._closed and self._proc.returncode is not None:
            return self._proc.returncode  # done() already ran (a second call, or __exit__ after it)
        self._close_input()
        self._out.join()
        code = self._proc.wait()
        self._err.join(timeout=5)
        while True:
            status = self._results.get()
            if status is _END:
                break
            self.tid2status[status['TaskId']] = status
        if code != 0:
            raise self._failure('with an error')
        return code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            if not (self._closed and self._proc.returncode is not None):
                self.done()
        else:
            self._close_input()
            self._proc.wait()
        return False

    def _close_input(self):
        """No more tasks: disbatch sees the end of its task stream."""
        if self._closed:
            return
        self._closed = True
        try:
            self._proc.stdin.close()
        except OSError:
            pass
