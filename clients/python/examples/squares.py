"""Driving disbatch from Python with disBatch's DisBatcher interface: squares, then a REPEAT.

    PYTHONPATH=clients/python python3 clients/python/examples/squares.py 15 -s localhost:5

The first argument is the number of tasks, the rest go to disbatch. Task 7 and the cube of 112
fail on purpose; the script checks every result and exits 0 when all are as expected.
"""

import sys

from disbatch import disBatch

n = int(sys.argv[1])
db = disBatch.DisBatcher(tasksname='squares', args=sys.argv[2:])

tasks = {}
for x in range(n):
    tasks[x] = f'echo {x}^2 $(( {x} * {x} )); [[ {x} == 7 ]] && exit 1; true'
    db.submit(tasks[x])

status = db.syncTasks(tasks)
for tid in tasks:
    s = status[tid]
    print(f'task {tid}: {s["OutData"].strip()!r} returned {s["ReturnCode"]}')
    assert s['TaskCmd'] == tasks[tid], (s['TaskCmd'], tasks[tid])
    assert s['ReturnCode'] == (1 if tid == 7 else 0), s
    assert s['OutData'] == f'{tid}^2 {tid * tid}\n', s

# A REPEAT: its tasks take the next n ids.
db.submit(f'#DISBATCH REPEAT {n} start 100 step 3 x=$DISBATCH_REPEAT_INDEX; echo $x^3 $(( x * x * x )); [[ $x == 112 ]] && exit 1; true')
wanted = set(range(n, 2 * n))
for _ in range(n):
    s = db.wait_one_task()
    assert s['TaskId'] in wanted, s
    wanted.discard(s['TaskId'])
    x = 100 + 3 * (s['TaskId'] - n)
    assert s['TaskRepIndex'] == x and s['ReturnCode'] == (1 if x == 112 else 0), s
    print(f'task {s["TaskId"]}: {s["OutData"].strip()!r} returned {s["ReturnCode"]}')

db.done()
print('all results as expected')
