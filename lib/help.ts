/**
 * `disbatch --help`: a short manual page.
 *
 * @module
 */

import { USAGE } from "./driver_options.ts";

/** The help text (ends with a newline). */
export const HELP = `${USAGE}

Run the shell commands of TASKFILE (one per line, "-" for stdin) over local
cores, ssh hosts or the nodes of a Slurm allocation, and record every task in
<run>_status.txt.

  disbatch -s localhost:7,otherhost:3 Tasks  7 slots here, 3 on otherhost (ssh)
  sbatch -N 3 -n 6 disbatch Tasks            Slurm: one engine per node (srun)
  disbatch Tasks                             no -s, no Slurm: every local core
  cat Tasks | disbatch -s localhost:2 -      tasks from stdin, as lines arrive
  disbatch -r Tasks_disBatch_*_status.txt Tasks   resume: skip what ran

positional arguments:
  taskfile              file of tasks, one bash command per line, or - for
                        stdin. Directives, at the start of a line:
                          #DISBATCH PREFIX text, #DISBATCH SUFFIX text
                            (wrap the following tasks)
                          #DISBATCH REPEAT N [start S] [step K] [command]
                          #DISBATCH BARRIER [CHECK] [key]  (wait for every
                            earlier task; CHECK stops the run if one failed)
                          #DISBATCH PERENGINE START|STOP command  (before
                            the first task; once per engine, before/after)
                          #DISBATCH TIMEOUT TIME  (time limit of the
                            following tasks, over --timeout; 0: no limit)

options:
  -h, --help            show this help message and exit
  --version             print the version and exit
  -e, --exit-code       exit 1 when any task failed (including failures kept
                        from -r files)
  -f, --fail-fast       at the first failed task, kill the running tasks and
                        exit 1
  -r, --resume-from STATUSFILE
                        skip tasks recorded in STATUSFILE with the same id,
                        line, repeat index and command (repeatable; reads
                        disBatch's status files too)
  -R, --retry           with -r: run again the tasks that failed
  --force-resume        with -r: skip by task id even when the line or command
                        changed
  -p, --prefix PATH     where run files go: an existing directory (default ".")
                        gets <taskfile>_disBatch_<yymmddHHMMSS>_<NNN>_*,
                        anything else is used as the file-name prefix itself
                        (its directory must exist)
  --status-header       write a header line at the top of the status file
  --logfile FILE        driver log (default <run>_driver.log)
  --loglevel LEVEL      CRITICAL, ERROR, WARNING, INFO (default) or DEBUG
  -S, --startup-only    start the driver only and print <run>_dbUtil.sh; add
                        engines with "sbatch ... <run>_dbUtil.sh" or
                        "<run>_dbUtil.sh -s HOST:N"
  --use-address HOST:PORT
                        listen on HOST:PORT and tell engines to connect there
                        (port 0: any free port); by default engines try this
                        host's name, then its addresses
  -w, --web             serve a live dashboard; its URL (with the access token)
                        is printed and written to <run>_url
  -q, --quiet           no progress line and no end-of-run summary on stderr
  --engine-restarts N   start a lost local or ssh engine of this run again, at
                        most N times per host, after 1, 2, 4, 8, 16 s (default
                        5; 0: never)

when things fail (see "When things fail" in the README):
  --retries N           run a failed task (non-zero exit, signal, time limit)
                        up to N more times, on another host when one is free;
                        only the last attempt is in the status file, earlier
                        ones go to <run>_attempts.txt (default 0)
  --crash-limit N       a task whose engine was lost N times is recorded
                        failed, rc -100 (default 3)
  --timeout TIME        stop a task that runs longer than TIME: SIGTERM to its
                        process group, SIGKILL after --kill-grace; recorded
                        with flag T (TIME: 90, 90s, 10m, 2h, HH:MM:SS,
                        D-HH:MM:SS; default 0: no limit)
  --kill-grace TIME     between SIGTERM and SIGKILL at a time limit (default
                        10s)
  --driver-grace TIME   how long engines keep running their tasks without a
                        driver (it was killed, its host rebooted, the network
                        is cut), trying to reach it or a driver restarted with
                        --reattach; then they kill their tasks and exit. A
                        silent engine keeps its tasks as long (default 5m)
  --walltime TIME       the run must end TIME after it starts; under Slurm the
                        job's end is used without it
  --end-time WHEN       the run must end at WHEN (YYYY-MM-DDTHH:MM[:SS], local
                        time, or Unix seconds). Near the end no task starts
                        that cannot finish; 15 s before it running tasks are
                        stopped (flag K) and the run exits 75
  --bad-node-after N    quarantine a host where N tasks in a row failed and
                        then succeeded elsewhere, or whose engine was lost
                        twice: it gets no more tasks (default 3; 0: never)

allocations disbatch asks for itself (README: "Letting disbatch request
allocations"):
  --alloc SBATCH_ARGS   ask Slurm for allocations with these sbatch options
                        (e.g. '-N 2 -t 1:00:00 -p gen') while tasks wait for
                        slots; each runs one context of engines; checked with
                        sbatch --test-only first; the rest are cancelled at the
                        end. Without -s no engine runs on this machine
  --max-allocs N        at most N allocations at once (default 1; one that ends
                        within a minute does not count, so its successor can
                        be asked for in time)
  --alloc-backlog N     at most N of them pending at once (default 1)
  --max-alloc-nodes N   at most N nodes held by the allocations pending or
                        running at once (each counts the nodes Slurm gave it
                        once it runs, else its -N, 1 without one; one about to
                        end counts too); default: no cap

driving disbatch from a program (see "Driving disbatch from a program"):
  --results FILE        write a JSON line per finished task, barrier and
                        PERENGINE task to FILE ("-": stdout) as it finishes
  --taskcommand CMD     run CMD (bash, this directory and environment) and take
                        its stdout as the task file; the results go to its
                        stdin as JSON lines; its end of output ends the tasks
  --name NAME           name of the task stream for run files and
                        DISBATCH_NAMETASKS (default: the task file's name,
                        stdin, or the task command's program)
  --event-log FILE      write every event the scheduler is given, and the
                        actions it answers with, to FILE as JSON lines (for
                        debugging: scripts/replay.ts replays such a file)

  --mailTo ADDR         mail progress to ADDR (SMTP on localhost:25, or
                        $DISBATCH_SMTP=HOST:PORT)
  --mailFreq N          with --mailTo: mail every N finished tasks (default 1),
                        and at the end

context options (also for <run>_dbUtil.sh):
  -s, --ssh-node HOST:N
                        run N slots on HOST (repeatable, comma-separated: -s
                        a:2,b:4); localhost and this host's own name run
                        without ssh; the same as DISBATCH_SSH_NODELIST; -s wins
                        over a Slurm allocation
  -c, --cpusPerTask N   cores per task: slots per node = cores // N (default 1,
                        or SLURM_CPUS_PER_TASK); DISBATCH_CORES_PER_TASK tells
                        the task
  -t, --tasksPerNode N  slots per node, whatever the core count
  --fill                Slurm: one slot per N cores of each node, ignoring
                        SLURM_TASKS_PER_NODE
  -C, --context-task-limit N
                        this context's engines leave after N tasks (0 = no
                        limit)
  -l, --label LABEL     name of the context in logs and the monitor (default
                        SSH<n> or J<jobid>)
  --retire-cmd CMD      shell command run when nodes have nothing left to do,
                        with NODE(S), ACTIVE, RETIRED, RETCODES and DRIVER_NODE
                        set (Slurm default: shrink the job with scontrol update
                        JobId=$SLURM_JOBID NodeList=...)
  --no-retire           never retire nodes
  -E, --env-resource VAR
                        split the comma list in $VAR across the slots (slot i
                        gets item i)

tasks see DISBATCH_TASKID, DISBATCH_STREAM_INDEX (line), DISBATCH_REPEAT_INDEX
(each with a _ZP six-digit form), DISBATCH_JOBID, DISBATCH_NAMETASKS,
DISBATCH_ENGINE_RANK, DISBATCH_CYLINDER_RANK, DISBATCH_CORES_PER_TASK and
DISBATCH_ATTEMPT (0, then 1, 2, ... when run again); stdin is /dev/null and the
working directory is the driver's. Engines start tasks through python3 (3.8 or
newer) when the node has it, else by themselves with posix_spawn (slower for
tiny tasks; the engine log says which); DISBATCH_LAUNCHER=0 in the environment
makes engines start every task themselves.

exit status: 0 when the run ended normally (failed tasks do not count without
-e); 1 with -e and a failure, on --fail-fast, on a failed BARRIER CHECK, or
when no engine could run the remaining tasks; 2 for usage errors, unreadable
files, bad directives, resume mismatches, a -p another run holds, a task file
changed mid-run (and from the launcher, a hard 'ulimit -v' too low to start);
3 when some status lines could not be written (a full disk); 75 when the
walltime ended the run (the resume command is printed); 128+N after signal N
(running tasks are killed and flagged K, so -r runs them again).

other commands:
  disbatch --reattach RUN [taskfile]
                        restart the driver of a run whose driver died (kill
                        -9, out of memory, a reboot): RUN is its -p prefix or
                        one of its files; it keeps the run's options, and the
                        engines still running re-attach with their tasks
  disbatch install [DIR]
                        keep this executable under
                        ~/.local/share/disbatch/VERSION/ and write
                        DIR/disbatch (default ~/bin), a small #!/bin/sh
                        launcher that sbatch accepts as a batch script and
                        that lifts a low soft 'ulimit -v' (the runtime
                        reserves ~32 GiB of address space)
  disbatch report STATUSFILE [-o report.html] [--json]
                        summary page of a run
  <run>_dbUtil.sh --mon | --stop ENGINE|CONTEXT | --status
                        watch, soft-stop or query a running run
`;

/** The usage line of `disbatch install`. */
export const INSTALL_USAGE = "usage: disbatch install [DIR]    (default DIR: $HOME/bin)";
