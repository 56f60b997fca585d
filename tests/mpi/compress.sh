# The compressors' exchanges across ranks (tests/mpi/mpi_compress.c) at np = 1 to 4: the
# majority vote (ties at even np), the sums, PowerSGD on the ranks against PowerSGD on their
# sum, the bytes each counts.
. tests/lib.sh

for np in 1 2 3 4; do
    mpitest $np "$BUILD/tests/mpi_compress"
done
