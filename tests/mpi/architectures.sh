# hogwild's shared memory, local-sgd at H = 1 against allreduce, and straggler and network
# injection in every mode, shown by summary.json's per-rank accounting (never by timings).
. tests/lib.sh
PY=/usr/bin/python3

# A write by one rank is seen by the others of its group; steps, finish and the groups'
# average (np=2: one group; np=3, 4 with group_size=2: two groups, one of them short).
mpitest 2 "$BUILD/tests/mpi_hogwild"
mpitest 2 "$BUILD/tests/mpi_easgd"
mpitest 3 "$BUILD/tests/mpi_stale"
mpitest 2 "$BUILD/tests/mpi_noise"
mpitest 4 "$BUILD/tests/mpi_noise"
mpitest 2 "$BUILD/tests/mpi_hogwild_race"
mpitest 4 "$BUILD/tests/mpi_hogwild_race"
mpitest 3 "$BUILD/tests/mpi_hogwild" 2
mpitest 4 "$BUILD/tests/mpi_hogwild" 2

# 1204 rows over 3 ranks, batch 50: shards of 402, 401, 401 rows, so the last batches are
# uneven (2, 1, 1 rows) and the sample weights of the average matter.
fixture d softmax rows=1204 features=10 classes=4 noise=0.1 seed=5 val_rows=400
cfg job d model.l2=0.001 optimizer.type=sgd optimizer.lr=0.3 train.epochs=4 train.batch_size=50



LOCAL1="--set parallel.mode=local-sgd --set parallel.average_every=1"
for opt in sgd momentum; do
    run ar-$opt 3 --set optimizer.type=$opt
    run ls-$opt 3 --set optimizer.type=$opt $LOCAL1 --set parallel.average_state=true
    check "local-sgd H=1 ($opt, average_state) equals allreduce at np=3, uneven batches (losses, samples, model.h5; 1e-5)" \
        same_run ar-$opt ls-$opt
done
run ls-sgd-nostate 3 $LOCAL1
check "local-sgd H=1 with sgd equals allreduce without average_state too" same_run ar-sgd ls-sgd-nostate


# Injection in every mode: rank 1 is the straggler and every message is late. Only rank 1
# sleeps for compute; every rank's sends and collectives are delayed (with ps and
# easgd-async, rank 1 is a worker; in hogwild the group meets in finish).
INJ='[r["injected"]["slow_s"] > 0 for r in s["ranks"]] == [False, True, False] and
    all(r["injected"]["delays"] > 0 and r["injected"]["delay_s"] > 0 for r in s["ranks"])'
for mode in allreduce ps ps-async hogwild easgd easgd-async local-sgd; do
    run inj-$mode 3 --set parallel.mode=$mode --set parallel.slow_ranks=1 \
        --set parallel.slow_factor=4 --set parallel.delay_us=20 --set train.epochs=2
    check "$mode: parallel.slow_ranks=1 sleeps on rank 1 only, delay_us on every rank (summary.json ranks[].injected)" \
        holds inj-$mode "s['status'] == 'ok' and $INJ"
done
# Hogwild! groups never wait for one another (Niu et al. 2011: no locks, no waits): two
# groups of one rank, rank 1 a straggler (10x its compute time, which the batches of 100
# rows x 300 features make the bulk of a step), 2 s of training each (train.max_seconds).
# Rank 0 takes at least 1.5x rank 1's updates (about 2.4x on a loaded machine, up to 10x
# on a quiet one) while the groups still average (rounds in flight: MPI_Iallreduce); with
# a blocking round every 5 steps rank 0 was held to rank 1's pace (0.8x measured). Counts,
# not timings.
gen --task softmax --rows 20000 --features 300 --classes 10 --seed 4 -o "$TMP/wide.h5"
run hw-straggler 2 --set parallel.mode=hogwild --set parallel.group_size=1 \
    --set parallel.average_every=5 --set parallel.slow_ranks=1 --set parallel.slow_factor=10 \
    --set data.train="$TMP/wide.h5" --set data.val= --set train.batch_size=100 \
    --set train.max_seconds=2 --set train.epochs=100000
check "hogwild, two groups, rank 1 a straggler: rank 0 takes >= 1.5x its updates, and the groups average" \
    holds hw-straggler 'h["updates_per_rank"][0] >= 1.5 * h["updates_per_rank"][1] and h["averages"] > 2'
run inj-none 3 --set train.epochs=1
check "nothing injected by default: every rank's injected figures are 0" \
    holds inj-none 'all(r["injected"] == {"slow_s": 0, "delay_s": 0, "delays": 0} for r in s["ranks"])'
run inj-list 4 --set parallel.slow_ranks="0, 3" --set train.epochs=1
check "parallel.slow_ranks = '0, 3': ranks 0 and 3 sleep, 1 and 2 do not" \
    holds inj-list '[r["injected"]["slow_s"] > 0 for r in s["ranks"]] == [True, False, False, True]'
